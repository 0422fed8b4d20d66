package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Target;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code raw:} takes its {@link DiskOptions} from {@code disk.NAME} parameters in the string as
 * well as from code.
 */
class DiskTargetOptionsTest {
  @TempDir Path tmp;

  static ImageBuild dataImage() {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("etc")
                .content("/etc/hostname", "kiln\n".getBytes(StandardCharsets.UTF_8), 0644));
  }

  @Test
  void optionsInTheStringReachTheDisk() throws Exception {
    Path a = tmp.resolve("a.img");
    Path b = tmp.resolve("b.img");
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      // without disk.dataOnly=true an image without a kernel is an error; the default size would be
      // 2 GiB
      kiln.bake(
          dataImage(), "raw:" + a + "?disk.dataOnly=true&disk.size=320M&disk.timestamp=1700000000");
      kiln.bake(
          dataImage(),
          DiskTarget.raw(b)
              .options(
                  DiskOptions.defaults()
                      .dataOnly(true)
                      .size(320L << 20)
                      .timestamp(1_700_000_000L)));
    }
    assertThat(Files.size(a)).isEqualTo(320L << 20);
    DiskImage disk = DiskImage.read(a);
    assertThat(Tools.debugfs(disk, "stat /etc/hostname")).contains("mtime: 0x6553f100");
    // the same options in the string and in code: the same disk
    assertThat(Tools.sha256(b)).isEqualTo(Tools.sha256(a));
  }

  @Test
  void aTargetBuiltInCodeWritesItsOptionsInItsStringAndParsesBack() {
    DiskOptions o =
        DiskOptions.defaults()
            .size(4L << 30)
            .freeSpace(0)
            .espSize(128L << 20)
            .kernelArgs("quiet", "net.ifnames=0")
            .defaultConsoles(false)
            .dataOnly(true)
            .timestamp(7);
    DiskTarget t = DiskTarget.raw(tmp.resolve("x.img")).options(o);
    assertThat(t.toString())
        .isEqualTo(
            "raw:"
                + tmp.resolve("x.img")
                + "?disk.size=4294967296&disk.freeSpace=0"
                + "&disk.espSize=134217728&disk.kernelArgs=quiet%20net.ifnames%3D0&disk.consoles=false&disk.dataOnly=true"
                + "&disk.timestamp=7");
    DiskTarget back = DiskTarget.parse(Target.parse(t.toString()));
    assertThat(back.options()).isEqualTo(o);
    assertThat(back.file()).isEqualTo(t.file());
    // defaults add nothing to the string
    assertThat(DiskTarget.raw(tmp.resolve("x.img")).toString())
        .isEqualTo("raw:" + tmp.resolve("x.img"));
    assertThat(
            DiskTarget.parse(Target.parse("raw:x.img?disk.size=auto&disk.kernelArgs=a+b"))
                .options())
        .isEqualTo(DiskOptions.defaults().kernelArgs("a", "b"));
  }
}
