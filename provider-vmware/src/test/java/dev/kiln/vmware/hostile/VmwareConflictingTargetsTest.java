package dev.kiln.vmware.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.InvalidTargetException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * vmdk:, ova: and ovf: declare the file they write, so targets that would overwrite each other are
 * refused.
 */
class VmwareConflictingTargetsTest {
  @TempDir Path tmp;

  @Test
  void twoTargetsWritingOneFileAreRefusedBeforeAnythingIsWritten() throws Exception {
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(
                Layer.files("etc")
                    .content(
                        "/etc/motd",
                        "hi\n".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        0644));
    Path f = tmp.resolve("out/web.img");
    String[][] pairs = {
      {"vmdk:" + f, "ova:" + f},
      {"ova:" + f, "oci-archive:" + tmp.resolve("out/./x/../web.img")},
      {"vmdk:" + f, "raw:" + f},
      {"ovf:" + tmp.resolve("out"), "oci:" + tmp.resolve("out") + ":v1"},
    };
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      for (String[] p : pairs) {
        assertThatThrownBy(() -> kiln.bake(build, p))
            .as(String.join(" + ", p))
            .isInstanceOf(InvalidTargetException.class)
            .hasMessageContaining(p[0])
            .hasMessageContaining(p[1]);
      }
    }
    assertThat(tmp.resolve("out")).doesNotExist();
  }
}
