package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.InvalidTargetException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Target;
import dev.kiln.disk.DiskTarget;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Target paths as docs/getting-started.md states them: relative to the working directory, {@code
 * ..} resolved as the file system resolves it (through symbolic links), and a file target that
 * names a directory refused up front.
 */
class TargetPathRuleTest {
  @TempDir Path tmp;
  Kiln kiln;
  Path real;
  Path link;

  @BeforeEach
  void setUp() throws Exception {
    kiln = Kiln.builder().store(tmp.resolve("store")).build();
    // tmp/link -> tmp/real/deep: "link/.." is tmp/real for the file system, not tmp
    real = Files.createDirectories(tmp.resolve("real/deep")).getParent();
    link = Files.createSymbolicLink(tmp.resolve("link"), real.resolve("deep"));
  }

  @AfterEach
  void tearDown() throws Exception {
    kiln.close();
  }

  private static ImageBuild tiny() {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("f").content("/f", "x\n".getBytes(StandardCharsets.UTF_8), 0644));
  }

  @Test
  void dotDotAfterASymlinkIsTheParentOfTheLinksTarget() throws Exception {
    kiln.bake(
        tiny(),
        "oci-archive:" + link + "/../a.tar",
        "docker-archive:" + link + "/../d.tar:x/y:1",
        "oci:" + link + "/../layout:v1");

    assertThat(real.resolve("a.tar")).isRegularFile();
    assertThat(real.resolve("d.tar")).isRegularFile();
    assertThat(real.resolve("layout/index.json")).isRegularFile();
    assertThat(tmp.resolve("a.tar")).doesNotExist();
    assertThat(tmp.resolve("d.tar")).doesNotExist();
    assertThat(tmp.resolve("layout")).doesNotExist();
    // what the file system itself says the path is
    assertThat(tmp.resolve("link/../a.tar").toRealPath())
        .isEqualTo(real.resolve("a.tar").toRealPath());

    assertThat(DiskTarget.parse(Target.parse("raw:" + link + "/../disk.img")).file())
        .isEqualTo(real.toRealPath().resolve("disk.img"));
    assertThat(DiskTarget.raw(link.resolve("../disk.img")).file())
        .isEqualTo(real.toRealPath().resolve("disk.img"));
  }

  @Test
  void relativePathsAreRelativeToTheWorkingDirectory() {
    Path cwd = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    assertThat(DiskTarget.parse(Target.parse("raw:build/./x.img")).file())
        .isEqualTo(cwd.resolve("build/x.img"));
    assertThat(DiskTarget.raw(Path.of("x.img")).file()).isEqualTo(cwd.resolve("x.img"));
    assertThat(Target.parse("raw:build/x.img").toString()).isEqualTo("raw:build/x.img");
  }

  @Test
  void aFileTargetThatNamesADirectoryIsRefusedBeforeAnythingIsWritten() {
    for (String t :
        new String[] {
          "oci-archive:" + tmp + "/out/",
          "oci-archive:" + tmp + "/out/..:v1",
          "docker-archive:" + tmp + "/.:x/y:1",
          "raw:" + tmp + "/disks/",
          "raw:.."
        }) {
      assertThatThrownBy(() -> kiln.bake(tiny(), t))
          .as(t)
          .isInstanceOf(InvalidTargetException.class)
          .hasMessageContaining("names a directory, expected a file path");
    }
    assertThat(tmp.resolve("out")).doesNotExist();
    assertThat(tmp.resolve("disks")).doesNotExist();
    assertThat(tmp.resolve("store/keys")).isEmptyDirectory(); // nothing provisioned either
  }
}
