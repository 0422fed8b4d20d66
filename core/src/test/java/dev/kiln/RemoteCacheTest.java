package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.event.BakeEvent;
import dev.kiln.spi.RemoteCache;
import dev.kiln.testing.MemoryRemoteCache;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.RemoteCacheContract;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine with a remote cache: two machines sharing one, modes, and a remote that fails, hangs
 * or lies.
 */
class RemoteCacheTest {
  @TempDir Path tmp;

  private Path tree(String name, int kib, long seed) throws IOException {
    Path root = Files.createDirectories(tmp.resolve("src").resolve(name));
    byte[] b = new byte[kib * 1024];
    new Random(seed).nextBytes(b);
    Files.write(root.resolve("data.bin"), b);
    Files.writeString(root.resolve("README"), "tree " + name + "\n");
    return root;
  }

  private ImageBuild build() throws IOException {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("deps").add(tree("deps", 512, 1), "/opt/deps"))
        .layer(Layer.files("app").add(tree("app", 64, 2), "/opt/app"))
        .layer(Layer.files("conf").add(tree("conf", 1, 3), "/etc/app"))
        .config(c -> c.cmd("/opt/app/run"));
  }

  private Kiln machine(
      String name, RemoteCache remote, RemoteCache.Mode mode, RecordingListener events)
      throws IOException {
    return Kiln.builder()
        .store(tmp.resolve(name))
        .listener(events)
        .remoteCache(remote, mode)
        .remoteCacheTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(20))
        .build();
  }

  @Test
  void aSecondMachineProvisionsNothingAndGetsTheSameDigests() throws Exception {
    MemoryRemoteCache remote = new MemoryRemoteCache();
    ImageBuild build = build();
    RecordingListener a = new RecordingListener();
    BakeResult first;
    try (Kiln kiln = machine("machine-a", remote, RemoteCache.Mode.READ_WRITE, a)) {
      first = kiln.bake(build);
    }
    assertThat(a.provisioned()).containsExactlyInAnyOrder("deps", "app", "conf");
    assertThat(a.of(BakeEvent.RemoteCachePushed.class))
        .extracting(BakeEvent.RemoteCachePushed::subject)
        .containsExactlyInAnyOrder("deps", "app", "conf");
    assertThat(remote.entries).hasSize(3);

    RecordingListener b = new RecordingListener();
    BakeResult second;
    try (Kiln kiln = machine("machine-b", remote, RemoteCache.Mode.READ_WRITE, b)) {
      second = kiln.bake(build);
    }
    assertThat(b.provisioned()).isEmpty();
    assertThat(b.of(BakeEvent.LayerStarted.class)).isEmpty();
    assertThat(b.of(BakeEvent.RemoteCacheHit.class))
        .extracting(BakeEvent.RemoteCacheHit::layer)
        .containsExactlyInAnyOrder("deps", "app", "conf");
    assertThat(b.of(BakeEvent.RemoteCachePushed.class)).isEmpty();
    assertThat(second.fromRemoteCache()).containsExactly("deps", "app", "conf");
    assertThat(second.provisioned()).isEmpty();
    assertThat(second.digest()).isEqualTo(first.digest());
    assertThat(second.layers())
        .extracting(LayerRecord::digest)
        .isEqualTo(first.layers().stream().map(LayerRecord::digest).toList());
    assertThat(second.diffIds()).isEqualTo(first.diffIds());
  }

  @Test
  void layersBakedBeforeTheRemoteWasConfiguredArePushedByTheNextBake() throws Exception {
    ImageBuild build = build();
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("m")).build()) {
      kiln.bake(build);
    }
    MemoryRemoteCache remote = new MemoryRemoteCache();
    RecordingListener e = new RecordingListener();
    try (Kiln kiln = machine("m", remote, RemoteCache.Mode.READ_WRITE, e)) {
      kiln.bake(build);
    }
    assertThat(e.of(BakeEvent.CacheHit.class)).hasSize(3);
    assertThat(e.of(BakeEvent.RemoteCachePushed.class)).hasSize(3);
    assertThat(remote.entries).hasSize(3);
  }

  @Test
  void readOnlyNeverWritesAndWriteOnlyNeverReads() throws Exception {
    ImageBuild build = build();
    MemoryRemoteCache remote = new MemoryRemoteCache();
    try (Kiln kiln = machine("ro", remote, RemoteCache.Mode.READ_ONLY, new RecordingListener())) {
      kiln.bake(build);
    }
    assertThat(remote.writes.get()).isZero();
    assertThat(remote.entries).isEmpty();
    assertThat(remote.reads.get()).isPositive();

    remote.reads.set(0);
    try (Kiln kiln = machine("wo", remote, RemoteCache.Mode.WRITE_ONLY, new RecordingListener())) {
      kiln.bake(build);
    }
    assertThat(remote.entries).hasSize(3);
    assertThat(remote.blobs).hasSize(3);

    // a write-only runner with an empty store provisions everything even though the remote has it
    // all
    RecordingListener e = new RecordingListener();
    try (Kiln kiln = machine("wo-2", remote, RemoteCache.Mode.WRITE_ONLY, e)) {
      kiln.bake(build);
    }
    assertThat(e.provisioned()).hasSize(3);
    assertThat(e.of(BakeEvent.RemoteCacheHit.class)).isEmpty();
  }

  @Test
  void aRemoteThatIsDownFallsBackToLocalProvisioningAndIsAskedOnce() throws Exception {
    ImageBuild build = build();
    BakeResult plain;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("plain")).build()) {
      plain = kiln.bake(build);
    }
    MemoryRemoteCache remote = new MemoryRemoteCache().behave(MemoryRemoteCache.Behaviour.DOWN);
    RecordingListener e = new RecordingListener();
    BakeResult r;
    try (Kiln kiln = machine("down", remote, RemoteCache.Mode.READ_WRITE, e)) {
      r = kiln.bake(build);
    }
    assertThat(r.digest()).isEqualTo(plain.digest());
    assertThat(e.provisioned()).containsExactlyInAnyOrder("deps", "app", "conf");
    assertThat(e.of(BakeEvent.RemoteCacheUnavailable.class))
        .hasSize(1)
        .allSatisfy(u -> assertThat(u.reason()).contains("Connection refused"));
    // the circuit breaker: layers are looked up in parallel, so a few calls may race the first
    // failure, not all 6
    assertThat(remote.calls.get()).isLessThanOrEqualTo(3);
  }

  @Test
  void aRemoteThatNeverAnswersIsBoundedByTheTimeout() throws Exception {
    ImageBuild build = build();
    MemoryRemoteCache remote = new MemoryRemoteCache().behave(MemoryRemoteCache.Behaviour.HANG);
    RecordingListener e = new RecordingListener();
    long t0 = System.nanoTime();
    BakeResult r;
    try (Kiln kiln = machine("hang", remote, RemoteCache.Mode.READ_WRITE, e)) {
      r = kiln.bake(build);
    }
    long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
    assertThat(seconds).as("bake time with a 2 s timeout").isLessThan(10);
    assertThat(r.provisioned()).hasSize(3);
    assertThat(e.of(BakeEvent.RemoteCacheUnavailable.class))
        .singleElement()
        .satisfies(u -> assertThat(u.reason()).contains("no answer in 2 s"));
    Thread.sleep(200);
    assertThat(remote.interrupted.get()).as("the hung call was interrupted").isPositive();
  }

  @Test
  void aWrongBlobIsNeverUsedAndTheEntryIsRepaired() throws Exception {
    ImageBuild build = build();
    MemoryRemoteCache remote = new MemoryRemoteCache();
    BakeResult first;
    try (Kiln kiln = machine("a", remote, RemoteCache.Mode.READ_WRITE, new RecordingListener())) {
      first = kiln.bake(build);
    }
    Digest app = first.layers().get(1).digest();
    byte[] good = remote.blobs.get(app);
    byte[] bad = good.clone();
    bad[bad.length / 2] ^= 1;
    remote.blobs.put(app, bad);

    RecordingListener e = new RecordingListener();
    BakeResult second;
    try (Kiln kiln = machine("b", remote, RemoteCache.Mode.READ_WRITE, e)) {
      second = kiln.bake(build);
    }
    assertThat(second.digest()).isEqualTo(first.digest());
    assertThat(e.provisioned()).containsExactly("app");
    assertThat(e.of(BakeEvent.Warning.class))
        .anySatisfy(w -> assertThat(w.message()).contains("served a wrong blob for layer 'app'"));
    assertThat(e.of(BakeEvent.RemoteCacheUnavailable.class))
        .as("a wrong blob is not an outage")
        .isEmpty();
    assertThat(Files.readAllBytes(tmp.resolve("b/blobs/sha256").resolve(app.hex())))
        .isEqualTo(good);
  }

  @Test
  void anEntryWhoseDiffIdLiesIsRejectedWhenContentIsVerified() throws Exception {
    ImageBuild build = build();
    MemoryRemoteCache remote = new MemoryRemoteCache();
    try (Kiln kiln = machine("a", remote, RemoteCache.Mode.READ_WRITE, new RecordingListener())) {
      kiln.bake(build);
    }
    for (Map.Entry<String, byte[]> en : remote.entries.entrySet()) {
      String json = new String(en.getValue(), java.nio.charset.StandardCharsets.UTF_8);
      en.setValue(
          json.replaceFirst(
                  "\"diffId\":\"sha256:[0-9a-f]{64}\"",
                  "\"diffId\":\"sha256:" + "0".repeat(64) + "\"")
              .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    RecordingListener e = new RecordingListener();
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp.resolve("b"))
            .listener(e)
            .remoteCache(remote, RemoteCache.Mode.READ_ONLY)
            .remoteCacheVerify(RemoteCache.Verify.CONTENT)
            .build()) {
      kiln.bake(build);
    }
    assertThat(e.provisioned()).hasSize(3);
    assertThat(e.of(BakeEvent.Warning.class))
        .hasSize(3)
        .allSatisfy(w -> assertThat(w.message()).contains("its entry says diffID"));

    // by default only the blob's digest is checked: the entry's diffID is taken as its writer wrote
    // it
    RecordingListener d = new RecordingListener();
    BakeResult trusted;
    try (Kiln kiln = machine("c", remote, RemoteCache.Mode.READ_ONLY, d)) {
      trusted = kiln.bake(build);
    }
    assertThat(d.provisioned()).isEmpty();
    assertThat(trusted.diffIds()).allSatisfy(id -> assertThat(id.hex()).isEqualTo("0".repeat(64)));
  }

  @Test
  void verifyModesParseFromTheEnvironmentSpelling() {
    assertThat(KilnEnvironment.verify("digest")).isEqualTo(RemoteCache.Verify.DIGEST);
    assertThat(KilnEnvironment.verify(" Content ")).isEqualTo(RemoteCache.Verify.CONTENT);
    assertThatThrownBy(() -> KilnEnvironment.verify("full"))
        .hasMessageContaining("expected digest or content");
  }

  @Test
  void anUnknownSchemeNamesTheKnownOnes() {
    assertThatThrownBy(() -> Kiln.builder().remoteCache("ftp://host/cache"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown remote cache scheme 'ftp'")
        .hasMessageContaining("remote cache schemes found:");
    assertThatThrownBy(() -> Kiln.builder().remoteCache("s3://bucket/prefix"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("add dev.kiln:kiln-cache-s3 to the classpath");
  }

  /** The in-memory fake keeps the contract the real backends are held to. */
  @Nested
  class MemoryContract extends RemoteCacheContract {
    @Override
    protected RemoteCache cache() {
      return new MemoryRemoteCache();
    }
  }
}
