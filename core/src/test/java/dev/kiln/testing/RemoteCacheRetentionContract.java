package dev.kiln.testing;

import static dev.kiln.testing.RemoteCaches.open;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.RetentionReport;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RetentionPlan;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retention of a remote cache against a real backend: entries' last use recorded on a hit (at most
 * once a day), entries dropped by age, count and bytes (the most recently used kept), a dry run
 * that lists the same and deletes nothing, and bakes that still hit what was kept. A backend's
 * integration test extends this.
 */
public abstract class RemoteCacheRetentionContract {
  private static final String GZIP = LayerRecord.GZIP_LAYER;
  @TempDir protected Path tmp;

  /** The URI of a fresh, empty cache on the running server. */
  protected abstract String freshRemote() throws Exception;

  /**
   * Whether dropping an entry deletes the blob only it named at once (S3), rather than leaving it
   * to the store's own garbage collection (a registry).
   */
  protected abstract boolean blobsGoWithEntries();

  /** Pushes a blob of {@code size} random bytes and an entry {@code keys/KEY} naming it. */
  private Digest put(RemoteCache cache, String key, int size) throws IOException {
    byte[] b = new byte[size];
    new Random(key.hashCode()).nextBytes(b);
    return RemoteCaches.putWithBlob(
        cache,
        tmp,
        key,
        b,
        ("{\"digest\":\"" + Digest.of(b) + "\"}").getBytes(StandardCharsets.UTF_8));
  }

  private static String key(char c) {
    return String.valueOf(c).repeat(64);
  }

  private static List<String> ids(List<RetentionReport.Item> items, String kind) {
    return items.stream().filter(i -> i.kind().equals(kind)).map(RetentionReport.Item::id).toList();
  }

  private static Instant daysAgo(long days) {
    return Instant.now().minus(days, ChronoUnit.DAYS);
  }

  @Test
  void entriesUnusedForLongerThanThePolicyGoAndTheRestStay() throws Exception {
    try (RemoteCache cache = open(freshRemote())) {
      Digest a = put(cache, key('a'), 1000);
      Digest b = put(cache, key('b'), 2000);
      put(cache, key('c'), 3000);
      cache.touch("keys", key('a'), daysAgo(40));
      cache.touch("keys", key('b'), daysAgo(10));

      RetentionReport r =
          cache.retain(RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(30)));

      assertThat(r.dryRun()).isFalse();
      assertThat(ids(r.removed(), RetentionPlan.ENTRY)).containsExactly("keys/" + key('a'));
      assertThat(ids(r.kept(), RetentionPlan.ENTRY))
          .containsExactly("keys/" + key('c'), "keys/" + key('b'));
      assertThat(r.removed().get(0).reason()).contains("unused for more than 30 days");
      assertThat(cache.getEntry("keys", key('a'))).isEmpty();
      assertThat(cache.getEntry("keys", key('b'))).isPresent();
      assertThat(cache.getEntry("keys", key('c'))).isPresent();
      assertThat(ids(r.removed(), RetentionPlan.BLOB)).containsExactly(a.toString());
      assertThat(cache.hasBlob(b)).isTrue();
      if (blobsGoWithEntries()) {
        assertThat(cache.hasBlob(a)).as("the dropped entry's blob").isFalse();
        assertThat(r.bytesFreed()).isEqualTo(1000);
      } else {
        assertThat(r.removed(RetentionPlan.BLOB).get(0).reason()).contains("garbage-collect");
      }
    }
  }

  @Test
  void aDryRunListsWhatWouldGoAndDeletesNothing() throws Exception {
    try (RemoteCache cache = open(freshRemote())) {
      Digest a = put(cache, key('a'), 1000);
      put(cache, key('b'), 2000);
      cache.touch("keys", key('a'), daysAgo(40));
      RemoteCache.Retention policy = RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(30));

      RetentionReport dry = cache.retain(policy.dryRun(true));

      assertThat(dry.dryRun()).isTrue();
      assertThat(dry.summary()).contains("would remove 2");
      assertThat(ids(dry.removed(), RetentionPlan.ENTRY)).containsExactly("keys/" + key('a'));
      assertThat(cache.getEntry("keys", key('a'))).as("still there after a dry run").isPresent();
      assertThat(cache.hasBlob(a)).isTrue();

      RetentionReport real = cache.retain(policy);
      assertThat(real.removed()).isEqualTo(dry.removed());
      assertThat(cache.getEntry("keys", key('a'))).isEmpty();
    }
  }

  @Test
  void limitsKeepTheMostRecentlyUsedEntries() throws Exception {
    try (RemoteCache cache = open(freshRemote())) {
      put(cache, key('a'), 1000);
      put(cache, key('b'), 2000);
      put(cache, key('c'), 3000);
      cache.touch("keys", key('a'), daysAgo(3));
      cache.touch("keys", key('b'), daysAgo(2));

      RetentionReport byCount = cache.retain(RemoteCache.Retention.keepAll().maxEntries(2));
      assertThat(ids(byCount.removed(), RetentionPlan.ENTRY)).containsExactly("keys/" + key('a'));

      RetentionReport byBytes = cache.retain(RemoteCache.Retention.keepAll().maxBytes(4000));
      assertThat(ids(byBytes.removed(), RetentionPlan.ENTRY)).containsExactly("keys/" + key('b'));
      assertThat(byBytes.removed().get(0).reason()).contains("most recently used first");
      assertThat(cache.getEntry("keys", key('b'))).isEmpty();
      assertThat(cache.getEntry("keys", key('c'))).isPresent();
    }
  }

  @Test
  void aUseIsRecordedAtMostOnceADay() throws Exception {
    try (RemoteCache cache = open(freshRemote())) {
      put(cache, key('a'), 100);
      Instant old = daysAgo(40);
      cache.touch("keys", key('a'), old);
      // two hours later: the use recorded (40 days ago) stands, nothing is written
      cache.touch("keys", key('a'), old.plus(2, ChronoUnit.HOURS));
      RemoteCache.Retention oneHourAfter =
          RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(40).minusHours(1)).dryRun(true);
      assertThat(ids(cache.retain(oneHourAfter).removed(), RetentionPlan.ENTRY))
          .containsExactly("keys/" + key('a'));
      // a day and more later: the new use is recorded
      cache.touch("keys", key('a'), old.plus(25, ChronoUnit.HOURS));
      assertThat(ids(cache.retain(oneHourAfter).removed(), RetentionPlan.ENTRY)).isEmpty();
      // touching what is not there is no error
      cache.touch("keys", key('f'), Instant.now());
    }
  }

  /** Two images of files layers: what a later bake hits and what it provisions. */
  private ImageBuild image(String name, int files) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("src-" + name));
    for (int i = 0; i < files; i++) {
      byte[] b = new byte[20_000];
      new Random(name.hashCode() * 31 + i).nextBytes(b);
      Files.write(dir.resolve("f" + i + ".bin"), b);
    }
    Path conf = Files.createDirectories(tmp.resolve("conf-" + name));
    Files.writeString(conf.resolve(name + ".conf"), "name=" + name + "\n");
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files(name + "-data").add(dir, "/opt/" + name + "/data"))
        .layer(Layer.files(name + "-conf").add(conf, "/etc/" + name));
  }

  private Kiln.Builder machine(String name, String remote, RecordingListener events) {
    return Kiln.builder()
        .store(tmp.resolve("machines").resolve(name))
        .listener(events)
        .remoteCache(remote)
        .remoteCacheTimeouts(Duration.ofSeconds(10), Duration.ofMinutes(2));
  }

  @Test
  void theCacheShrinksAndALaterBakeStillHitsWhatWasKept() throws Exception {
    String remote = freshRemote();
    ImageBuild old = image("old", 3);
    ImageBuild live = image("live", 2);
    BakeResult oldBaked;
    BakeResult liveBaked;
    try (Kiln kiln = machine("a", remote, new RecordingListener()).build()) {
      oldBaked = kiln.bake(old);
      liveBaked = kiln.bake(live);
    }
    // the old image's layers were last used 40 days ago, the live one's are recent
    try (RemoteCache cache = open(remote)) {
      for (LayerRecord l : oldBaked.layers()) {
        cache.touch("keys", l.key().hex(), daysAgo(40));
      }
      for (LayerRecord l : liveBaked.layers()) {
        cache.touch("keys", l.key().hex(), daysAgo(3));
      }
    }
    // a bake on another machine hits the live layers: that use is recorded
    RecordingListener hits = new RecordingListener();
    try (Kiln kiln = machine("b", remote, hits).build()) {
      kiln.bake(live);
    }
    assertThat(hits.of(BakeEvent.RemoteCacheHit.class)).hasSize(2);

    RetentionReport r;
    try (Kiln kiln = machine("ops", remote, new RecordingListener()).build()) {
      RemoteCache.Retention policy = RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(30));
      // the live layers were used on machine b just now, not 3 days ago: a 2-day limit keeps them
      RetentionReport recent =
          kiln.retainRemoteCache(
              RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(2)).dryRun(true));
      assertThat(ids(recent.kept(), RetentionPlan.ENTRY))
          .containsExactlyInAnyOrderElementsOf(
              liveBaked.layers().stream().map(l -> "keys/" + l.key().hex()).toList());
      r = kiln.retainRemoteCache(policy);
    }
    assertThat(ids(r.removed(), RetentionPlan.ENTRY))
        .containsExactlyInAnyOrderElementsOf(
            oldBaked.layers().stream().map(l -> "keys/" + l.key().hex()).toList());
    assertThat(ids(r.kept(), RetentionPlan.ENTRY)).hasSize(liveBaked.layers().size());
    try (RemoteCache cache = open(remote)) {
      for (LayerRecord l : oldBaked.layers()) {
        assertThat(cache.getEntry("keys", l.key().hex())).as("dropped " + l.name()).isEmpty();
        if (blobsGoWithEntries()) {
          assertThat(cache.hasBlob(l.digest())).as("blob of dropped " + l.name()).isFalse();
        }
      }
    }

    // a fresh machine downloads the kept layers and provisions the dropped ones
    RecordingListener c = new RecordingListener();
    try (Kiln kiln = machine("c", remote, c).build()) {
      BakeResult again = kiln.bake(live);
      assertThat(again.digest()).isEqualTo(liveBaked.digest());
      assertThat(again.fromRemoteCache()).containsExactly("live-data", "live-conf");
      assertThat(c.provisioned()).isEmpty();
      BakeResult oldAgain = kiln.bake(old);
      assertThat(oldAgain.digest()).isEqualTo(oldBaked.digest());
      assertThat(oldAgain.fromRemoteCache()).isEmpty();
    }
    assertThat(c.provisioned()).containsExactlyInAnyOrder("old-data", "old-conf");
    assertThat(c.of(BakeEvent.RemoteCacheUnavailable.class)).isEmpty();
  }

  @Test
  void aReadOnlyKilnRetainsOnlyAsADryRun() throws Exception {
    String remote = freshRemote();
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp.resolve("ro"))
            .remoteCache(remote, RemoteCache.Mode.READ_ONLY)
            .build()) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> kiln.retainRemoteCache(RemoteCache.Retention.keepAll().maxEntries(0)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("read-only");
      assertThat(kiln.retainRemoteCache(RemoteCache.Retention.keepAll().dryRun(true)).removed())
          .isEmpty();
    }
  }
}
