package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.event.BakeEvent;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RetentionPlan;
import dev.kiln.testing.MemoryRemoteCache;
import dev.kiln.testing.RecordingListener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote cache retention in core: bakes record the use of what they read, the one rule that picks
 * what goes, and the API's refusals. The backends' own tests run it against a registry and S3.
 */
class RemoteRetentionTest {
  @TempDir Path tmp;

  /** A memory remote that records every touch, and can be made to fail them. */
  static final class Touched implements RemoteCache {
    final MemoryRemoteCache remote = new MemoryRemoteCache();
    final List<String> touches = new CopyOnWriteArrayList<>();
    volatile boolean failTouches;

    @Override
    public String describe() {
      return "touched://test";
    }

    @Override
    public boolean hasBlob(Digest digest) throws IOException {
      return remote.hasBlob(digest);
    }

    @Override
    public void fetchBlob(Digest digest, Path dest, LongConsumer progress) throws IOException {
      remote.fetchBlob(digest, dest, progress);
    }

    @Override
    public long pushBlob(Digest digest, long size, String mediaType, Path file, LongConsumer p)
        throws IOException {
      return remote.pushBlob(digest, size, mediaType, file, p);
    }

    @Override
    public Optional<byte[]> getEntry(String namespace, String key) throws IOException {
      return remote.getEntry(namespace, key);
    }

    @Override
    public void putEntry(String namespace, String key, byte[] json, Optional<BlobRef> blob)
        throws IOException {
      remote.putEntry(namespace, key, json, blob);
    }

    @Override
    public void touch(String namespace, String key, Instant at) throws IOException {
      if (failTouches) {
        throw new IOException("touch refused (test)");
      }
      assertThat(at).isBetween(Instant.now().minusSeconds(600), Instant.now());
      touches.add(namespace + "/" + key);
    }
  }

  private ImageBuild build() throws IOException {
    Path root = Files.createDirectories(tmp.resolve("src"));
    byte[] b = new byte[64 * 1024];
    new Random(4).nextBytes(b);
    Files.write(root.resolve("data.bin"), b);
    Path conf = Files.createDirectories(tmp.resolve("conf"));
    Files.writeString(conf.resolve("app.conf"), "x=1\n");
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("data").add(root, "/opt/data"))
        .layer(Layer.files("conf").add(conf, "/etc/app"));
  }

  private Kiln machine(String name, RemoteCache remote, RemoteCache.Mode mode, RecordingListener l)
      throws IOException {
    return Kiln.builder()
        .store(tmp.resolve(name))
        .listener(l)
        .remoteCache(remote, mode)
        .remoteCacheTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(20))
        .build();
  }

  @Test
  void aBakeRecordsTheUseOfEveryEntryItReadsWhereItWrites() throws Exception {
    Touched remote = new Touched();
    ImageBuild build = build();
    BakeResult first;
    try (Kiln kiln = machine("a", remote, RemoteCache.Mode.READ_WRITE, new RecordingListener())) {
      first = kiln.bake(build);
    }
    assertThat(remote.touches).as("misses record nothing").isEmpty();

    try (Kiln kiln = machine("b", remote, RemoteCache.Mode.READ_WRITE, new RecordingListener())) {
      kiln.bake(build);
    }
    assertThat(remote.touches)
        .containsExactlyInAnyOrderElementsOf(
            first.layers().stream().map(l -> "keys/" + l.key().hex()).toList());

    remote.touches.clear();
    try (Kiln kiln = machine("c", remote, RemoteCache.Mode.READ_ONLY, new RecordingListener())) {
      assertThat(kiln.bake(build).fromRemoteCache()).hasSize(2);
    }
    assertThat(remote.touches).as("a read-only runner writes nothing, not even uses").isEmpty();
  }

  @Test
  void aTouchThatFailsNeitherFailsTheBakeNorTurnsTheRemoteOff() throws Exception {
    Touched remote = new Touched();
    ImageBuild build = build();
    try (Kiln kiln = machine("a", remote, RemoteCache.Mode.READ_WRITE, new RecordingListener())) {
      kiln.bake(build);
    }
    remote.failTouches = true;
    RecordingListener b = new RecordingListener();
    try (Kiln kiln = machine("b", remote, RemoteCache.Mode.READ_WRITE, b)) {
      assertThat(kiln.bake(build).fromRemoteCache()).containsExactly("data", "conf");
    }
    assertThat(b.of(BakeEvent.RemoteCacheUnavailable.class)).isEmpty();
    assertThat(b.provisioned()).isEmpty();
  }

  @Test
  void retentionNeedsARemoteCacheThatHasIt() throws Exception {
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("none")).build()) {
      assertThatThrownBy(() -> kiln.retainRemoteCache(RemoteCache.Retention.keepAll()))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("no remote cache");
    }
    try (Kiln kiln =
        machine(
            "mem", new MemoryRemoteCache(), RemoteCache.Mode.READ_WRITE, new RecordingListener())) {
      assertThatThrownBy(() -> kiln.retainRemoteCache(RemoteCache.Retention.keepAll()))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("memory://test cannot list or delete its entries");
    }
  }

  @Test
  void aPolicyRefusesLimitsThatMeanNothing() {
    RemoteCache.Retention all = RemoteCache.Retention.keepAll();
    assertThatThrownBy(() -> all.unusedFor(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("positive");
    assertThatThrownBy(() -> all.maxEntries(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxEntries");
    assertThatThrownBy(() -> all.maxBytes(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxBytes");
    assertThat(all.unusedFor(Duration.ofDays(3)).maxEntries(5).dryRun(true))
        .isEqualTo(
            new RemoteCache.Retention(Optional.of(Duration.ofDays(3)), 5, Long.MAX_VALUE, true));
  }

  // ---- the rule ----

  private static final Instant NOW = Instant.parse("2026-06-01T12:00:00Z");

  private static Digest blob(String s) {
    return Digest.of(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  private static RetentionPlan.Entry entry(String key, String blob, long bytes, long daysAgo) {
    return new RetentionPlan.Entry(
        "keys",
        key,
        Optional.of(blob(blob)),
        bytes,
        daysAgo < 0 ? Optional.empty() : Optional.of(NOW.minus(daysAgo, ChronoUnit.DAYS)));
  }

  private static List<String> removed(List<RetentionPlan.Decision> ds) {
    return ds.stream().filter(RetentionPlan.Decision::remove).map(d -> d.entry().key()).toList();
  }

  @Test
  void theMostRecentlyUsedStayAndTheCutIsByLastUseOnly() {
    List<RetentionPlan.Entry> entries =
        List.of(
            entry("old", "x", 10, 40),
            entry("big", "y", 500, 2),
            entry("small", "z", 10, 3),
            entry("new", "w", 100, 0));
    // 100 + 500 > 550: "big" does not fit, and "small", used before it, goes too
    assertThat(
            removed(
                RetentionPlan.decide(entries, RemoteCache.Retention.keepAll().maxBytes(550), NOW)))
        .containsExactly("big", "small", "old");
    assertThat(
            removed(
                RetentionPlan.decide(entries, RemoteCache.Retention.keepAll().maxEntries(3), NOW)))
        .containsExactly("old");
    assertThat(
            removed(
                RetentionPlan.decide(
                    entries, RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(30)), NOW)))
        .containsExactly("old");
    assertThat(removed(RetentionPlan.decide(entries, RemoteCache.Retention.keepAll(), NOW)))
        .isEmpty();
  }

  @Test
  void aBlobSharedByEntriesCountsOnceAndIsFreedOnlyWhenNoKeptEntryNamesIt() {
    List<RetentionPlan.Entry> entries =
        List.of(
            entry("a", "shared", 100, 1),
            entry("b", "shared", 100, 2),
            entry("c", "own", 100, 3),
            entry("d", "shared", 100, 50));
    List<RetentionPlan.Decision> ds =
        RetentionPlan.decide(
            entries,
            RemoteCache.Retention.keepAll().maxBytes(200).unusedFor(Duration.ofDays(30)),
            NOW);
    assertThat(removed(ds)).containsExactly("d");
    assertThat(RetentionPlan.blobsFreed(ds)).as("d's blob is still named by a and b").isEmpty();
    List<RetentionPlan.Decision> fewer =
        RetentionPlan.decide(entries, RemoteCache.Retention.keepAll().maxEntries(2), NOW);
    assertThat(removed(fewer)).containsExactly("c", "d");
    assertThat(RetentionPlan.blobsFreed(fewer)).containsExactly(blob("own"));
  }

  @Test
  void anEntryWithoutARecordedUseCountsAsUsedNow() {
    List<RetentionPlan.Entry> entries =
        List.of(entry("unknown", "u", 1, -1), entry("x", "x", 1, 1));
    List<RetentionPlan.Decision> ds =
        RetentionPlan.decide(
            entries,
            RemoteCache.Retention.keepAll().unusedFor(Duration.ofHours(1)).maxEntries(1),
            NOW);
    assertThat(removed(ds)).containsExactly("x");
    assertThat(ds.get(0).reason()).contains("no recorded use");
  }
}
