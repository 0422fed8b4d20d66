package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Platform;
import dev.kiln.PublishedImage;
import dev.kiln.disk.BlockDiff;
import dev.kiln.disk.DiskOptions;
import dev.kiln.disk.DiskTarget;
import dev.kiln.testing.Fixtures;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A linux/arm64 image baked to {@code ec2://…?arch=arm64} against the loopback AWS server: an arm64
 * AMI (UEFI, ENA) whose snapshot reads back as the arm64 disk, and an app AMI over it uploaded
 * incrementally from the base's snapshot. The root file system is small (an arm64 kernel header and
 * a few files): what boots is shown by Arm64DiskBootIT in core.
 */
class Ec2Arm64BakeIT {
  private static final String REGION = "eu-west-1";
  // a small disk keeps the test quick: the layout, not the size, is what is checked
  private static final DiskOptions SMALL = DiskOptions.defaults().size(256L << 20);
  @TempDir Path tmp;
  @Loopback LoopbackAws aws;

  @Test
  void arm64BaseAndAppAmis() throws Exception {
    Fixtures.arm64GrubModules();
    Path rootfs = Files.createDirectories(tmp.resolve("rootfs"));
    Files.createDirectories(rootfs.resolve("boot"));
    byte[] kernel = new byte[1 << 20];
    new Random(1).nextBytes(kernel);
    ByteBuffer.wrap(kernel, 56, 4).put("ARM".getBytes(StandardCharsets.US_ASCII)).put((byte) 0x64);
    Files.write(rootfs.resolve("boot/vmlinuz-6.1.0-10-cloud-arm64"), kernel);
    Files.writeString(rootfs.resolve("boot/initrd.img-6.1.0-10-cloud-arm64"), "initramfs");
    Files.createDirectories(rootfs.resolve("etc"));
    Files.writeString(rootfs.resolve("etc/hostname"), "graviton\n");
    ImageBuild base =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(Layer.files("motd").content("/etc/motd", "baked by Kiln\n".getBytes(), 0644))
            .platforms(Platform.LINUX_ARM64);
    byte[] payload = new byte[5 << 20];
    new Random(5).nextBytes(payload);
    Path app = Files.write(tmp.resolve("app.bin"), payload);
    ImageBuild web =
        ImageBuild.from(Base.of(base))
            .layer(Layer.files("app").add(app, "/opt/app/app.bin", 0644))
            .platforms(Platform.LINUX_ARM64);

    Path baseDisk = tmp.resolve("base.img");
    Path webDisk = tmp.resolve("web.img");
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      BakeResult b =
          kiln.bake(
              base,
              aws.target(REGION, "base").architecture("arm64").diskOptions(SMALL),
              DiskTarget.raw(baseDisk).options(SMALL));
      PublishedImage bAmi = ec2(b);
      LoopbackAws.ImageInfo bImg = aws.image(bAmi.details().get("imageId")).orElseThrow();
      assertThat(bImg.architecture()).isEqualTo("arm64");
      assertThat(bImg.bootMode()).isEqualTo("uefi");
      assertThat(bImg.enaSupport()).isTrue();
      // tagged with a key of its own: never the parent of an amd64 upload of the same layers
      assertThat(bImg.tags().get("kiln:key"))
          .startsWith("sha256:")
          .isNotEqualTo(b.key().toString());
      Path back = tmp.resolve("base.back");
      aws.assembleDisk(bImg.rootSnapshotId(), back, Files.size(baseDisk));
      assertThat(TestDisks.mismatch(baseDisk, back))
          .as("snapshot read back vs local raw disk")
          .isEqualTo(-1L);

      int putsBefore = aws.calls("PutSnapshotBlock");
      BakeResult w =
          kiln.bake(
              web,
              aws.target(REGION, "web").architecture("arm64").diskOptions(SMALL),
              DiskTarget.raw(webDisk).options(SMALL));
      LoopbackAws.ImageInfo wImg = aws.image(ec2(w).details().get("imageId")).orElseThrow();
      assertThat(wImg.architecture()).isEqualTo("arm64");
      LoopbackAws.SnapshotInfo wSnap = aws.snapshot(wImg.rootSnapshotId()).orElseThrow();
      assertThat(wSnap.parentSnapshotId()).contains(bImg.rootSnapshotId());
      BlockDiff diff = BlockDiff.compare(baseDisk, webDisk);
      int sent = aws.calls("PutSnapshotBlock") - putsBefore;
      assertThat((long) sent)
          .as("blocks sent = blocks that differ from the base disk")
          .isEqualTo(diff.changedBlocks());
      assertThat(diff.changedBytes()).isLessThan(2L * payload.length);
      Path webBack = tmp.resolve("web.back");
      aws.assembleDisk(wSnap.snapshotId(), webBack, Files.size(webDisk));
      assertThat(TestDisks.mismatch(webDisk, webBack)).isEqualTo(-1L);
    }
  }

  private static PublishedImage ec2(BakeResult r) {
    return r.published().values().stream()
        .filter(p -> p.target().startsWith("ec2:"))
        .findFirst()
        .orElseThrow();
  }
}
