package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.keys.StatIndex;
import dev.kiln.spi.RemoteCache;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.MemoryRemoteCache;
import dev.kiln.testing.RecordingListener;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Disks are remote cache entries too: a second machine downloads the disk another one built instead
 * of building it.
 */
class RemoteDiskCacheIT {
  @TempDir Path tmp;

  @Test
  void aSecondMachinePullsTheDiskInsteadOfBuildingIt() throws Exception {
    Path rootfs = DiskBootIT.fixture();
    Path app = Files.createDirectories(tmp.resolve("app"));
    Files.writeString(app.resolve("motd"), "baked once\n");
    ImageBuild build =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(Layer.files("app").add(app.resolve("motd"), "/etc/motd", 0644));
    MemoryRemoteCache remote = new MemoryRemoteCache();

    RecordingListener a = new RecordingListener();
    Path diskA = tmp.resolve("a.img");
    try (Kiln kiln =
        Fixtures.debianStore(tmp.resolve("machine-a"))
            .listener(a)
            .remoteCache(remote, RemoteCache.Mode.READ_WRITE)
            .build()) {
      kiln.bake(build, "raw:" + diskA);
    }
    assertThat(a.of(BakeEvent.Output.class))
        .anyMatch(o -> o.line().startsWith("building the disk"));
    assertThat(a.of(BakeEvent.RemoteCachePushed.class))
        .filteredOn(p -> p.subject().equals("disk"))
        .hasSize(2); // base and image
    assertThat(remote.entries.keySet()).filteredOn(k -> k.startsWith("disks/")).hasSize(2);

    RecordingListener b = new RecordingListener();
    Path diskB = tmp.resolve("b.img");
    BakeResult r;
    try (Kiln kiln =
        Fixtures.debianStore(tmp.resolve("machine-b"))
            .listener(b)
            .remoteCache(remote, RemoteCache.Mode.READ_WRITE)
            .build()) {
      r = kiln.bake(build, "raw:" + diskB);
    }
    assertThat(r.provisioned()).isEmpty();
    assertThat(b.of(BakeEvent.Output.class))
        .noneMatch(
            o -> o.line().startsWith("building the disk") || o.line().startsWith("extending"));
    assertThat(b.of(BakeEvent.RemoteCacheHit.class))
        .filteredOn(h -> h.layer().equals("disk"))
        .hasSize(1);
    assertThat(new Digest(StatIndex.hash(diskB))).isEqualTo(new Digest(StatIndex.hash(diskA)));
    // the downloaded disk is sparse again: it takes far less room than its size
    Path cached;
    try (var s = Files.list(tmp.resolve("machine-b/disks"))) {
      cached = s.filter(p -> p.toString().endsWith(".raw")).findFirst().orElseThrow();
    }
    long allocated =
        Long.parseLong(
            dev.kiln.testing.Tools.run("du", "-B1", cached.toString())
                .ok()
                .output()
                .split("\\s")[0]);
    assertThat(allocated)
        .as("allocated bytes of the pulled disk")
        .isLessThan(Files.size(cached) / 2);
  }
}
