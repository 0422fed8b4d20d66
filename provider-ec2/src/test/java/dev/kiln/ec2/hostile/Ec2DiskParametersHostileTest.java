package dev.kiln.ec2.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.InvalidTargetException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.ec2.Ec2Target;
import dev.kiln.ec2.LoopbackAws;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Bad {@code disk.NAME} parameters in an {@code ec2://} target: refused with the message every disk
 * target gives, before anything is built or sent to AWS.
 */
class Ec2DiskParametersHostileTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "disk.size=1000|disk.size=1000: disk size must be a positive multiple of 1 MiB: 1000",
        "disk.size=8 gigs|disk.size= expects a size in bytes or with a unit K, M, G or T (512M, 8G), found '8 gigs'",
        "disk.espSize=1M|ESP size must be a multiple of 1 MiB, at least 34 MiB: 1048576",
        "disk.dataOnly=yes|disk.dataOnly= expects true or false, found 'yes'",
        "disk.kernelArgs=a%22b|kernel argument must be non-blank without quotes, backslashes or newlines: a\"b",
        "disk.free=1G|unknown disk parameter 'disk.free': expected one of [disk.size,",
        "disk.size=1G&disk.size=2G|disk parameter 'disk.size' given twice",
      })
  void aBadDiskParameterIsRefusedBeforeAnythingIsSent(String query, String message)
      throws Exception {
    try (LoopbackAws aws = LoopbackAws.start()) {
      String uri = "ec2://eu-west-1/data?endpoint=" + aws.endpoint() + "&" + query;
      assertThatThrownBy(() -> Ec2Target.parse(uri))
          .isInstanceOf(InvalidTargetException.class)
          .hasMessageStartingWith(uri + ": ")
          .hasMessageContaining(message);
      try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
        ImageBuild build =
            ImageBuild.from(Base.scratch())
                .layer(
                    Layer.files("etc")
                        .content("/etc/hostname", "x\n".getBytes(StandardCharsets.UTF_8), 0644));
        assertThatThrownBy(() -> kiln.bake(build, uri))
            .isInstanceOf(InvalidTargetException.class)
            .hasMessageContaining(message);
      }
      assertThat(aws.log()).isEmpty();
    }
  }
}
