package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.PublishedImage;
import dev.kiln.disk.BlockDiff;
import dev.kiln.disk.DiskTarget;
import dev.kiln.testing.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path through the engine: a bootable Debian disk baked to {@code ec2://} against the
 * loopback AWS server, read back byte for byte; an app image over it uploaded incrementally from
 * the base's snapshot; a rebake that sends nothing.
 */
class Ec2BakeIT {
  private static final String REGION = "eu-west-1";
  @TempDir Path tmp;
  @Loopback LoopbackAws aws;

  @Test
  void baseAndAppAmisFromOneDefinition() throws Exception {
    Path rootfs = Fixtures.debianWithKernel();
    ImageBuild base =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(Layer.files("motd").content("/etc/motd", "baked by Kiln\n".getBytes(), 0644));
    byte[] payload = new byte[5 << 20];
    new Random(5).nextBytes(payload);
    Path app = Files.write(tmp.resolve("app.bin"), payload);
    ImageBuild web =
        ImageBuild.from(Base.of(base)).layer(Layer.files("app").add(app, "/opt/app/app.bin", 0644));

    Path baseDisk = tmp.resolve("base.img");
    Path webDisk = tmp.resolve("web.img");
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store")).build()) {
      BakeResult b =
          kiln.bake(
              base, aws.target(REGION, "base").tag("team", "platform"), DiskTarget.raw(baseDisk));
      PublishedImage bAmi =
          b.published().values().stream()
              .filter(p -> p.target().startsWith("ec2:"))
              .findFirst()
              .orElseThrow();
      LoopbackAws.ImageInfo bImg = aws.image(bAmi.details().get("imageId")).orElseThrow();
      assertThat(bImg.bootMode()).isEqualTo("uefi");
      assertThat(bImg.enaSupport()).isTrue();
      assertThat(bImg.imdsSupport()).isEqualTo("v2.0");
      assertThat(bImg.architecture()).isEqualTo("x86_64");
      assertThat(bImg.name()).isEqualTo("base-" + b.digest().shortHex());
      assertThat(bImg.tags())
          .containsEntry("kiln:digest", b.digest().toString())
          .containsEntry("kiln:key", b.key().toString())
          .containsEntry("team", "platform");
      Path back = tmp.resolve("base.back");
      aws.assembleDisk(bImg.rootSnapshotId(), back, Files.size(baseDisk));
      assertThat(TestDisks.mismatch(baseDisk, back))
          .as("snapshot read back vs local raw disk")
          .isEqualTo(-1L);

      int putsBefore = aws.calls("PutSnapshotBlock");
      BakeResult w = kiln.bake(web, aws.target(REGION, "web"), DiskTarget.raw(webDisk));
      PublishedImage wAmi =
          w.published().values().stream()
              .filter(p -> p.target().startsWith("ec2:"))
              .findFirst()
              .orElseThrow();
      LoopbackAws.SnapshotInfo wSnap =
          aws.snapshot(aws.image(wAmi.details().get("imageId")).orElseThrow().rootSnapshotId())
              .orElseThrow();
      assertThat(wSnap.parentSnapshotId()).contains(bImg.rootSnapshotId());
      BlockDiff diff = BlockDiff.compare(baseDisk, webDisk);
      int sent = aws.calls("PutSnapshotBlock") - putsBefore;
      assertThat((long) sent)
          .as("blocks sent = blocks that differ from the base disk")
          .isEqualTo(diff.changedBlocks());
      assertThat(wSnap.writtenBlocks()).hasSize(sent);
      Path webBack = tmp.resolve("web.back");
      aws.assembleDisk(wSnap.snapshotId(), webBack, Files.size(webDisk));
      assertThat(TestDisks.mismatch(webDisk, webBack)).isEqualTo(-1L);
      System.out.printf(
          "app AMI: %d of %d blocks sent (%d MiB of a %d MiB disk; full upload would send %s)%n",
          sent,
          Files.size(webDisk) / (512 * 1024),
          sent / 2,
          Files.size(webDisk) >> 20,
          bAmi.details().get("bytesSent"));

      // the same definition again: zero bytes, the same AMI
      int putsAfter = aws.calls("PutSnapshotBlock");
      BakeResult again = kiln.bake(web, aws.target(REGION, "web"));
      PublishedImage aAmi = again.published().values().iterator().next();
      assertThat(aAmi.reused()).isTrue();
      assertThat(aAmi.details().get("imageId")).isEqualTo(wAmi.details().get("imageId"));
      assertThat(aws.calls("PutSnapshotBlock")).isEqualTo(putsAfter);
      assertThat(aws.calls("StartSnapshot")).isEqualTo(2);
    }
  }
}
