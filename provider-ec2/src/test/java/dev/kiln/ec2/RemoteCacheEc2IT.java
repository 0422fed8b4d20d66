package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.PublishedImage;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.RemoteCache;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.MemoryRemoteCache;
import dev.kiln.testing.RecordingListener;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A build fleet baking AMIs: runner A bakes the base AMI; runner B, with an empty store, bakes the
 * app AMI over it. B pulls the base's layers and disk from the remote cache (it never builds the
 * base disk) and uploads only the blocks that differ from the base snapshot, whose id the remote
 * cache also records.
 */
class RemoteCacheEc2IT {
  private static final String REGION = "eu-west-1";
  @TempDir Path tmp;
  @Loopback LoopbackAws aws;

  @Test
  void aSecondRunnerBakesTheAppAmiIncrementallyFromTheBaseAnotherRunnerUploaded() throws Exception {
    Path rootfs = Fixtures.debianWithKernel();
    ImageBuild base =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(
                Layer.files("motd")
                    .content(
                        "/etc/motd", "baked by runner A\n".getBytes(StandardCharsets.UTF_8), 0644));
    byte[] payload = new byte[3 << 20];
    new Random(9).nextBytes(payload);
    Path app = Files.write(tmp.resolve("app.bin"), payload);
    ImageBuild web =
        ImageBuild.from(Base.of(base)).layer(Layer.files("app").add(app, "/opt/app/app.bin", 0644));
    MemoryRemoteCache remote = new MemoryRemoteCache();

    BakeResult b;
    try (Kiln runnerA =
        Fixtures.debianStore(tmp.resolve("runner-a"))
            .remoteCache(remote, RemoteCache.Mode.READ_WRITE)
            .build()) {
      b = runnerA.bake(base, aws.target(REGION, "base"));
    }
    PublishedImage bAmi = b.published().values().iterator().next();
    String baseSnapshot = aws.image(bAmi.details().get("imageId")).orElseThrow().rootSnapshotId();
    String entry =
        new String(
            remote.entries.get("ec2-snapshots/" + REGION + "." + b.key().hex()),
            StandardCharsets.UTF_8);
    assertThat(entry).contains("\"snapshotId\":\"" + baseSnapshot + "\"");
    assertThat(new Ec2ImageStores.RemoteSnapshots(remote).find(REGION, b.key().toString()))
        .contains(baseSnapshot);

    RecordingListener events = new RecordingListener();
    int putsBefore = aws.calls("PutSnapshotBlock");
    BakeResult w;
    try (Kiln runnerB =
        Fixtures.debianStore(tmp.resolve("runner-b"))
            .listener(events)
            .remoteCache(remote, RemoteCache.Mode.READ_WRITE)
            .build()) {
      w = runnerB.bake(web, aws.target(REGION, "web"));
    }
    assertThat(w.provisioned()).containsExactly("app");
    assertThat(w.fromRemoteCache()).containsExactly("rootfs", "motd");
    assertThat(events.of(BakeEvent.RemoteCacheHit.class))
        .filteredOn(h -> h.layer().equals("disk"))
        .hasSize(1);
    assertThat(events.of(BakeEvent.Output.class))
        .as("runner B never builds the base disk from scratch")
        .noneMatch(o -> o.line().startsWith("building the disk"));
    PublishedImage wAmi = w.published().values().iterator().next();
    LoopbackAws.SnapshotInfo wSnap =
        aws.snapshot(aws.image(wAmi.details().get("imageId")).orElseThrow().rootSnapshotId())
            .orElseThrow();
    assertThat(wSnap.parentSnapshotId()).contains(baseSnapshot);
    int sent = aws.calls("PutSnapshotBlock") - putsBefore;
    assertThat(sent)
        .as("blocks sent for the app AMI")
        .isPositive()
        .isLessThan(aws.calls("PutSnapshotBlock") - sent);
  }

  @Test
  void aSnapshotIdThatIsNotThereIsOnlyAHint() throws Exception {
    MemoryRemoteCache remote = new MemoryRemoteCache();
    Ec2ImageStores.RemoteSnapshots dir = new Ec2ImageStores.RemoteSnapshots(remote);
    dir.record(REGION, "sha256:" + "e".repeat(64), "snap-0123456789abcdef0");
    assertThat(dir.find(REGION, "sha256:" + "e".repeat(64))).contains("snap-0123456789abcdef0");
    assertThat(dir.find("us-east-1", "sha256:" + "e".repeat(64))).isEmpty();
    try (Ec2Clients clients = Ec2Clients.create(aws.target(REGION, "probe"))) {
      assertThat(AmiRegistrar.create(clients).isCompletedSnapshot("snap-0123456789abcdef0"))
          .isFalse();
    }
    remote.behave(MemoryRemoteCache.Behaviour.DOWN);
    assertThat(dir.find(REGION, "sha256:" + "e".repeat(64)))
        .as("an unavailable remote is a miss")
        .isEmpty();
  }
}
