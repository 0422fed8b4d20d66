package dev.kiln.ec2.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.InvalidTargetException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.ec2.Ec2Target;
import dev.kiln.ec2.LoopbackAws;
import dev.kiln.s3.S3ProxyServer;
import dev.kiln.testing.SigningKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code attestations=} takes {@code s3://BUCKET[/PREFIX]} only, and a location that cannot take
 * the documents fails the bake before the AMI is tagged: no tag names a document that is not there.
 */
class Ec2AttestationsLocationHostileTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://bucket/prefix",
        "s3://",
        "s3://Bucket/prefix",
        "s3://bucket/../other",
        "s3://bucket//x",
        "s3://bucket/a b",
        "s3://b/x"
      })
  void aLocationThatIsNotABucketAndPrefixIsRefused(String location) {
    assertThatThrownBy(() -> Ec2Target.parse("ec2://eu-west-1/web?attestations=" + location))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("expected attestations=s3://BUCKET[/PREFIX]")
        .hasMessageContaining(location);
  }

  @Test
  void aMissingBucketFailsTheBakeBeforeTheAmiIsTagged() throws Exception {
    ImageBuild image =
        ImageBuild.from(Base.scratch())
            .layer(
                Layer.files("etc")
                    .content("/etc/hostname", "kiln\n".getBytes(StandardCharsets.UTF_8), 0644));
    try (LoopbackAws aws = LoopbackAws.start();
        S3ProxyServer s3 =
            S3ProxyServer.startSignedWith(
                LoopbackAws.ACCESS_KEY, LoopbackAws.SECRET_KEY, "another-bucket")) {
      Ec2Target target =
          Ec2Target.parse(
                  "ec2://eu-west-1/data?endpoint="
                      + aws.endpoint()
                      + "&attestations=s3://kiln-missing/docs&s3Endpoint="
                      + s3.endpoint()
                      + "&disk.dataOnly=true&disk.size=160M")
              .credentials(aws.credentials());
      try (Kiln kiln =
          Kiln.builder()
              .store(tmp.resolve("store"))
              .provenance(true)
              .signWith(SigningKeys.generate())
              .build()) {
        assertThatThrownBy(() -> kiln.bake(image, target))
            .isInstanceOf(ImageStoreException.class)
            .hasMessageContaining("could not publish")
            .hasMessageContaining("s3://kiln-missing/docs/sha256/");
      }
      // the AMI is published (nothing is lost) but names no signature or document
      assertThat(aws.images("eu-west-1")).hasSize(1);
      assertThat(aws.images("eu-west-1").get(0).tags())
          .containsEntry("kiln:state", "complete")
          .doesNotContainKeys("kiln:signature", "kiln:provenance", "kiln:provenance.dsse");
    }
  }
}
