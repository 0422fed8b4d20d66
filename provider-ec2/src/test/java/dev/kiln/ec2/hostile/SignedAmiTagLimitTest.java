package dev.kiln.ec2.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.disk.DiskOptions;
import dev.kiln.ec2.Ec2Target;
import dev.kiln.ec2.Loopback;
import dev.kiln.ec2.LoopbackAws;
import dev.kiln.testing.SigningKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * EC2 allows 50 tags on an AMI. A signed AMI carries up to 7 more than it is registered with; a
 * target whose tags leave no room for them is refused before a disk is built or a block sent, not
 * after the AMI is published (where CreateTags would fail with TagLimitExceeded).
 */
class SignedAmiTagLimitTest {
  @TempDir Path tmp;
  @Loopback LoopbackAws aws;

  @Test
  void aSignedAmiWithoutRoomForItsSignatureTagsIsRefusedBeforeUploading() throws Exception {
    ImageBuild image =
        ImageBuild.from(Base.scratch())
            .layer(
                Layer.files("etc")
                    .content("/etc/hostname", "kiln\n".getBytes(StandardCharsets.UTF_8), 0644));
    // 4 of Kiln's, 1 input (the layer) and 45 of the target's: 50, the most an AMI can carry
    Ec2Target target =
        aws.target("eu-west-1", "data").diskOptions(DiskOptions.defaults().dataOnly(true));
    for (int i = 0; i < 45; i++) {
      target = target.tag("team" + i, "platform");
    }
    Ec2Target full = target;
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp.resolve("store"))
            .sbom(true)
            .provenance(true)
            .signWith(SigningKeys.generate())
            .build()) {
      assertThatThrownBy(() -> kiln.bake(image, full))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("a signed AMI carries 7 tags")
          .hasMessageContaining("EC2 allows 50")
          .hasMessageContaining("45 tag.KEY parameters");
    }
    assertThat(aws.calls("StartSnapshot")).isZero();
    assertThat(aws.images()).isEmpty();
  }
}
