package dev.kiln.examples.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Kiln;
import dev.kiln.PublishedImage;
import dev.kiln.ec2.LoopbackAws;
import dev.kiln.testing.Fixtures;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The EC2 example against the loopback AWS server, as CI runs it. */
class BaseAndAppAmisIT {
  @TempDir Path tmp;

  @Test
  void bakesABaseAndAnIncrementalAppAmi() throws Exception {
    Path rootfs = Fixtures.debianWithKernel();
    try (LoopbackAws aws = LoopbackAws.start();
        Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      BaseAndAppAmis.Amis amis =
          BaseAndAppAmis.bake(kiln, rootfs, null, name -> aws.target("eu-west-1", name));
      BaseAndAppAmis.print(amis);
      PublishedImage base = amis.base().published().values().iterator().next();
      PublishedImage app = amis.app().published().values().iterator().next();
      LoopbackAws.SnapshotInfo appSnap =
          aws.snapshot(app.details().get("snapshotId")).orElseThrow();
      assertThat(appSnap.parentSnapshotId()).contains(base.details().get("snapshotId"));
      assertThat(Long.parseLong(app.details().get("bytesSent")))
          .isPositive()
          .isLessThan(Long.parseLong(base.details().get("bytesSent")) / 20);
      assertThat(aws.images()).hasSize(2);
    }
  }
}
