package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.disk.DiskOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ec2://} builds its disk with the target's {@link DiskOptions}, from {@code disk.NAME}
 * parameters or from code: the loopback server's snapshot has the size they ask for and holds the
 * same bytes as the {@code raw:} disk of the same options.
 */
class Ec2DiskOptionsTest {
  private static final String REGION = "eu-west-1";
  @TempDir Path tmp;
  @Loopback LoopbackAws aws;

  static ImageBuild dataImage() {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("etc")
                .content("/etc/hostname", "kiln\n".getBytes(StandardCharsets.UTF_8), 0644));
  }

  @Test
  void diskOptionsInTheUriReachTheSnapshot() throws Exception {
    // without disk.dataOnly=true an image without a kernel is an error; the automatic size would be
    // 2 GiB (a
    // snapshot of 2 GiB), 320 MiB is a snapshot of 1 GiB
    String disk = "disk.dataOnly=true&disk.size=320M&disk.timestamp=1700000000";
    Ec2Target target =
        Ec2Target.parse("ec2://" + REGION + "/data?endpoint=" + aws.endpoint() + "&" + disk)
            .credentials(aws.credentials());
    assertThat(target.diskOptions())
        .isEqualTo(
            DiskOptions.defaults().dataOnly(true).size(320L << 20).timestamp(1_700_000_000L));
    Path raw = tmp.resolve("data.img");
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      kiln.bake(dataImage(), target, dev.kiln.Target.parse("raw:" + raw + "?" + disk));
    }
    assertThat(aws.images(REGION)).hasSize(1);
    LoopbackAws.ImageInfo ami = aws.images(REGION).get(0);
    LoopbackAws.SnapshotInfo snapshot = aws.snapshot(ami.rootSnapshotId()).orElseThrow();
    assertThat(snapshot.volumeSizeGiB()).isEqualTo(1);
    Path back = tmp.resolve("back.img");
    aws.assembleDisk(snapshot.snapshotId(), back, Files.size(raw));
    assertThat(Files.size(raw)).isEqualTo(320L << 20);
    assertThat(TestDisks.mismatch(back, raw)).isEqualTo(-1);
  }

  @Test
  void diskOptionsSetInCodeReachTheSnapshotAndGoIntoTheUri() throws Exception {
    DiskOptions options =
        DiskOptions.defaults().dataOnly(true).size(320L << 20).kernelArgs("quiet");
    Ec2Target target = aws.target(REGION, "data").diskOptions(options);
    assertThat(target.toUri())
        .endsWith("&disk.size=335544320&disk.kernelArgs=quiet&disk.dataOnly=true");
    assertThat(Ec2Target.parse(target.toUri()).diskOptions()).isEqualTo(options);
    assertThat(Ec2Target.parse(target.toUri()).toUri()).isEqualTo(target.toUri());
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      kiln.bake(dataImage(), target);
    }
    LoopbackAws.ImageInfo ami = aws.images(REGION).get(0);
    assertThat(aws.snapshot(ami.rootSnapshotId()).orElseThrow().volumeSizeGiB()).isEqualTo(1);
  }
}
