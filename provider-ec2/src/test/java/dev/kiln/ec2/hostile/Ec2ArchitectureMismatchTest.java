package dev.kiln.ec2.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Platform;
import dev.kiln.disk.DiskOptions;
import dev.kiln.ec2.Ec2Target;
import dev.kiln.ec2.LoopbackAws;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An image whose platform is not the AMI's architecture: its disk would not boot on the instance
 * types of that architecture. Refused with what to change, before a disk is built or anything is
 * sent to EBS.
 */
class Ec2ArchitectureMismatchTest {
  private static final DiskOptions DATA = DiskOptions.defaults().dataOnly(true);

  @TempDir Path tmp;

  private ImageBuild image(Platform platform) {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("motd")
                .content("/etc/motd", "baked by Kiln\n".getBytes(StandardCharsets.UTF_8), 0644))
        .platforms(platform);
  }

  @Test
  void anAmd64ImageIsNotRegisteredAsArm64() throws Exception {
    try (LoopbackAws aws = LoopbackAws.start();
        Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      Ec2Target target = aws.target("eu-west-1", "web").architecture("arm64").diskOptions(DATA);
      assertThatThrownBy(() -> kiln.bake(image(Platform.LINUX_AMD64), target))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining(
              "the image is for linux/amd64 but arch=arm64 registers an AMI for linux/arm64")
          .hasMessageContaining("bake the image for linux/arm64, or use arch=x86_64");
      assertThat(aws.calls("StartSnapshot")).isZero();
      assertThat(aws.calls("RegisterImage")).isZero();
      assertNoDisk();
    }
  }

  @Test
  void anArm64ImageIsNotRegisteredAsX8664() throws Exception {
    try (LoopbackAws aws = LoopbackAws.start();
        Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      Ec2Target target = aws.target("eu-west-1", "web").diskOptions(DATA);
      assertThatThrownBy(() -> kiln.bake(image(Platform.LINUX_ARM64), target))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining(
              "the image is for linux/arm64 but arch=x86_64 registers an AMI for linux/amd64")
          .hasMessageContaining("bake the image for linux/amd64, or use arch=arm64");
      assertThat(aws.calls("StartSnapshot")).isZero();
      assertThat(aws.calls("RegisterImage")).isZero();
      assertNoDisk();
    }
  }

  private void assertNoDisk() throws Exception {
    Path disks = tmp.resolve("store/disks");
    if (Files.isDirectory(disks)) {
      try (var s = Files.list(disks)) {
        assertThat(s.filter(p -> p.toString().endsWith(".raw"))).isEmpty();
      }
    }
  }
}
