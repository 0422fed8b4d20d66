package dev.kiln.vmware.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Platform;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * VMware runs x86-64 guests (ESXi on Arm is a Fling only): an arm64 image given to {@code vmdk:},
 * {@code ova:}, {@code ovf:} or {@code vsphere://} is refused, saying so, before a disk is built, a
 * file written or a server contacted.
 */
class Arm64ImageRefusedTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @ValueSource(strings = {"vmdk:OUT/web.vmdk", "ova:OUT/web.ova", "ovf:OUT/web", "vsphere"})
  void anArm64ImageIsRefused(String kind) throws Exception {
    Path out = tmp.resolve("out");
    String target =
        kind.equals("vsphere")
            ? "vsphere://vc.invalid/DC/web?library=images&disk.dataOnly=true"
            : kind.replace("OUT", out.toString()) + "?disk.dataOnly=true";
    ImageBuild arm =
        ImageBuild.from(Base.scratch())
            .layer(
                Layer.files("motd")
                    .content("/etc/motd", "baked by Kiln\n".getBytes(StandardCharsets.UTF_8), 0644))
            .platforms(Platform.LINUX_ARM64);
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThatThrownBy(() -> kiln.bake(arm, target))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("the image is for linux/arm64")
          .hasMessageContaining("VMware targets take linux/amd64 images only")
          .hasMessageContaining("ESXi on Arm is a Fling");
    }
    assertThat(out).doesNotExist();
    Path disks = tmp.resolve("store/disks");
    if (Files.isDirectory(disks)) {
      try (var s = Files.list(disks)) {
        assertThat(s.filter(p -> p.toString().endsWith(".raw"))).isEmpty();
      }
    }
  }
}
