package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.testing.GcImages;
import dev.kiln.testing.RecordingListener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local store's garbage collection: limits, what it keeps, and the bakes after it. */
class StoreGcTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long DAY = Duration.ofDays(1).toMillis();

  @TempDir Path tmp;

  @AfterEach
  void clearProperty() {
    System.clearProperty(GcPolicy.PROPERTY);
  }

  /** A 1 MiB base layer every version shares and a 256 KiB app layer of its own. */
  private ImageBuild version(int i) throws IOException {
    return GcImages.version(tmp, i, 1 << 20, 256 << 10);
  }

  /** Makes every file of the store that records a use look {@code daysAgo} days old. */
  private static void age(Path store, Digest image, int daysAgo) throws IOException {
    FileTime t = FileTime.fromMillis(System.currentTimeMillis() - daysAgo * DAY);
    Files.setLastModifiedTime(store.resolve("records/" + image.hex() + ".json"), t);
  }

  private static void ageKeys(Path store, int daysAgo) throws IOException {
    FileTime t = FileTime.fromMillis(System.currentTimeMillis() - daysAgo * DAY);
    try (Stream<Path> s = Files.list(store.resolve("keys"))) {
      for (Path k : s.toList()) {
        Files.setLastModifiedTime(k, t);
      }
    }
  }

  private static long storeSize(Path store) throws IOException {
    long n = 0;
    try (Stream<Path> s = Files.list(store.resolve("blobs/sha256"))) {
      for (Path p : s.toList()) {
        n += Files.size(p);
      }
    }
    return n;
  }

  private static Set<String> indexed(Path store) throws IOException {
    Set<String> out = new HashSet<>();
    for (JsonNode m : JSON.readTree(store.resolve("index.json").toFile()).path("manifests")) {
      out.add(m.path("digest").asText());
    }
    return out;
  }

  /** Every key entry and index entry names blobs that are there; every blob matches its digest. */
  static void assertConsistent(Path store) throws IOException {
    try (Stream<Path> s = Files.list(store.resolve("blobs/sha256"))) {
      for (Path b : s.toList()) {
        assertThat(Digest.of(Files.readAllBytes(b)).hex()).isEqualTo(b.getFileName().toString());
      }
    }
    try (Stream<Path> s = Files.list(store.resolve("keys"))) {
      for (Path k : s.toList()) {
        String blob = Digest.parse(JSON.readTree(k.toFile()).path("digest").asText()).hex();
        assertThat(store.resolve("blobs/sha256/" + blob)).as("blob of key %s", k).exists();
      }
    }
    for (String d : indexed(store)) {
      Path manifest = store.resolve("blobs/sha256/" + Digest.parse(d).hex());
      assertThat(manifest).as("manifest of index entry %s", d).exists();
      JsonNode m = JSON.readTree(manifest.toFile());
      List<JsonNode> refs = new ArrayList<>();
      refs.add(m.path("config"));
      m.path("layers").forEach(refs::add);
      for (JsonNode r : refs) {
        assertThat(store.resolve("blobs/sha256/" + Digest.parse(r.path("digest").asText()).hex()))
            .as("blob of image %s", d)
            .exists();
      }
    }
  }

  @Test
  void aStoreFilledPastItsLimitComesBackUnderItAndPinnedAndRecentImagesBakeWithoutProvisioning()
      throws Exception {
    Path store = tmp.resolve("store");
    List<Digest> images = new ArrayList<>();
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      for (int i = 0; i < 20; i++) {
        images.add(kiln.bake(version(i)).digest());
      }
    }
    // the first 18 were last used 10 to 27 days ago, the last two today
    for (int i = 0; i < 18; i++) {
      age(store, images.get(i), 27 - i);
    }
    ageKeys(store, 30);
    long before = storeSize(store);
    assertThat(before).isGreaterThan(5L << 20);
    long limit = (5L << 20) / 2;

    RecordingListener events = new RecordingListener();
    RetentionReport report;
    try (Kiln kiln = Kiln.builder().store(store).listener(events).gc(GcPolicy.none()).build()) {
      report =
          kiln.gc(GcPolicy.of().maxBytes(limit).pin(images.get(0)).keepRecent(Duration.ofDays(1)));
    }
    assertThat(storeSize(store)).isLessThanOrEqualTo(limit);
    assertThat(report.bytesFreed()).isGreaterThan(0);
    assertThat(report.dryRun()).isFalse();
    assertThat(report.removed("image")).isNotEmpty();
    assertThat(events.of(BakeEvent.GarbageCollected.class)).hasSize(1);
    assertThat(indexed(store))
        .contains(images.get(0).toString(), images.get(18).toString(), images.get(19).toString())
        .doesNotContain(images.get(1).toString());
    assertThat(report.kept())
        .anyMatch(i -> i.id().equals(images.get(0).toString()) && i.reason().equals("pinned"));
    assertConsistent(store);

    // pinned and recent images bake again from their keys alone
    for (int i : new int[] {0, 18, 19}) {
      RecordingListener rebake = new RecordingListener();
      try (Kiln kiln = Kiln.builder().store(store).listener(rebake).gc(GcPolicy.none()).build()) {
        assertThat(kiln.bake(version(i)).digest()).isEqualTo(images.get(i));
      }
      assertThat(rebake.provisioned()).as("layers provisioned again for image %s", i).isEmpty();
      assertThat(rebake.of(BakeEvent.CacheHit.class)).hasSize(2);
    }
    // a collected image bakes again: its own layer is provisioned, the same image results
    RecordingListener rebake = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(rebake).gc(GcPolicy.none()).build()) {
      assertThat(kiln.bake(version(1)).digest()).isEqualTo(images.get(1));
    }
    assertThat(rebake.provisioned()).containsExactly("app");
    assertConsistent(store);
  }

  @Test
  void aDryRunListsWhatWouldGoAndRemovesNothing() throws Exception {
    Path store = tmp.resolve("store");
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      for (int i = 0; i < 3; i++) {
        kiln.bake(version(i));
      }
      Set<Path> files = allFiles(store);
      RetentionReport r = kiln.gc(GcPolicy.of().maxBytes(0).dryRun());
      assertThat(r.dryRun()).isTrue();
      assertThat(r.removed("image")).hasSize(3);
      assertThat(r.removed("blob")).isNotEmpty();
      assertThat(r.bytesFreed()).isGreaterThan(1L << 20);
      assertThat(allFiles(store)).isEqualTo(files);
    }
  }

  private static Set<Path> allFiles(Path store) throws IOException {
    try (Stream<Path> s = Files.walk(store)) {
      return new HashSet<>(
          s.filter(p -> !p.startsWith(store.resolve("tmp")) && Files.isRegularFile(p)).toList());
    }
  }

  @Test
  void unusedImagesAndKeysGoAfterTheirAgeAndTheLastOfEachNameStay() throws Exception {
    Path store = tmp.resolve("store");
    Path layout = tmp.resolve("layout");
    List<Digest> images = new ArrayList<>();
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      for (int i = 0; i < 4; i++) {
        images.add(kiln.bake(version(i), "oci:" + layout + ":app").digest());
      }
    }
    for (int i = 0; i < 4; i++) {
      age(store, images.get(i), 40 - i);
      try (Stream<Path> s = Files.list(store.resolve("records/" + images.get(i).hex()))) {
        for (Path p : s.toList()) {
          Files.setLastModifiedTime(
              p, FileTime.fromMillis(System.currentTimeMillis() - (40 - i) * DAY));
        }
      }
    }
    ageKeys(store, 40);
    RetentionReport r;
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      r = kiln.gc(GcPolicy.of().unusedFor(Duration.ofDays(30)).keepLast(2));
    }
    assertThat(indexed(store))
        .containsExactlyInAnyOrder(images.get(2).toString(), images.get(3).toString());
    assertThat(r.removed("image"))
        .extracting(RetentionReport.Item::id)
        .containsExactlyInAnyOrder(images.get(0).toString(), images.get(1).toString());
    assertThat(r.removed("image")).allMatch(i -> i.reason().equals("unused for more than 30 days"));
    assertThat(r.kept())
        .anyMatch(i -> i.id().equals(images.get(3).toString()) && i.reason().contains("last 2"));
    // the app keys of the two removed images went, the base key and those of the kept stay
    assertThat(r.removed("key")).hasSize(2);
    assertConsistent(store);
  }

  @Test
  void aKeyWhoseBlobIsGoneIsDroppedAndTheNextBakeProvisionsIt() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult first;
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      first = kiln.bake(version(0));
    }
    LayerRecord app = first.layers().get(1);
    Files.delete(store.resolve("blobs/sha256/" + app.digest().hex()));
    RecordingListener events = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(events).gc(GcPolicy.none()).build()) {
      RetentionReport r = kiln.gc(GcPolicy.of());
      assertThat(r.removed("key"))
          .singleElement()
          .satisfies(
              i -> {
                assertThat(i.id()).isEqualTo(app.key().toString());
                assertThat(i.reason()).contains("is gone");
              });
      assertThat(r.removed("image")).isEmpty(); // its manifest is there: index.json repairs itself
      assertThat(store.resolve("keys/" + app.key().hex() + ".json")).doesNotExist();
      assertThat(kiln.bake(version(0)).digest()).isEqualTo(first.digest());
    }
    assertThat(events.provisioned()).containsExactly("app");
    assertConsistent(store);
  }

  @Test
  void aBlobLeasedByARunningBakeOfAnotherSessionIsKeptUntilTheBakeEnds() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult r;
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      r = kiln.bake(version(0));
    }
    Digest appBlob = r.layers().get(1).digest();
    // another process's bake, as the store sees it: a session that has looked the blob up
    try (LocalStore other = LocalStore.open(store)) {
      LocalStore.StoreLock use = other.use();
      assertThat(other.hasBlob(appBlob)).isTrue();
      try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
        RetentionReport report = kiln.gc(GcPolicy.of().maxBytes(0));
        assertThat(report.kept())
            .anyMatch(
                i ->
                    i.id().equals(appBlob.toString())
                        && i.reason().equals("in use by a running bake"));
        assertThat(report.removed("blob")).noneMatch(i -> i.id().equals(appBlob.toString()));
        assertThat(store.resolve("blobs/sha256/" + appBlob.hex())).exists();
        assertConsistent(store);
      }
      use.close();
      try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
        // nothing refers to it any more: it goes once it is older than the grace period
        RetentionReport report = kiln.gc(GcPolicy.of().maxBytes(0).grace(Duration.ZERO));
        assertThat(report.removed("blob")).anyMatch(i -> i.id().equals(appBlob.toString()));
      }
      assertThat(store.resolve("blobs/sha256/" + appBlob.hex())).doesNotExist();
      assertThat(indexed(store)).isEmpty();
      assertConsistent(store);
    }
  }

  @Test
  void theAutomaticCollectionKeepsTheStoreUnderItsLimitAndCanBeTurnedOff() throws Exception {
    Path store = tmp.resolve("store");
    long limit = 2L << 20;
    RecordingListener events = new RecordingListener();
    try (Kiln kiln =
        Kiln.builder().store(store).listener(events).gc(GcPolicy.of().maxBytes(limit)).build()) {
      for (int i = 0; i < 6; i++) {
        kiln.bake(version(i));
        assertThat(storeSize(store)).isLessThanOrEqualTo(limit);
      }
    }
    assertThat(events.of(BakeEvent.GarbageCollected.class)).isNotEmpty();
    assertConsistent(store);

    RecordingListener none = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(none).gc(GcPolicy.none()).build()) {
      for (int i = 6; i < 9; i++) {
        kiln.bake(version(i));
      }
    }
    assertThat(none.of(BakeEvent.GarbageCollected.class)).isEmpty();
    assertThat(storeSize(store)).isGreaterThan(limit);

    System.setProperty(GcPolicy.PROPERTY, "false");
    RecordingListener off = new RecordingListener();
    try (Kiln kiln =
        Kiln.builder().store(store).listener(off).gc(GcPolicy.of().maxBytes(limit)).build()) {
      kiln.bake(version(9));
    }
    assertThat(off.of(BakeEvent.GarbageCollected.class)).isEmpty();
  }

  @Test
  void byDefaultWhatAMonthDidNotUseGoesAtMostOnceADayCountingFromTheFirstBakeOfThisVersion()
      throws Exception {
    Path store = tmp.resolve("store");
    List<Digest> images = new ArrayList<>();
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      images.add(kiln.bake(version(0)).digest());
      images.add(kiln.bake(version(1)).digest());
    }
    // a store of a version that did not mark uses: its entries only say when they were written
    age(store, images.get(1), 40);
    ageKeys(store, 40);
    RecordingListener first = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(first).build()) {
      kiln.bake(version(2));
    }
    assertThat(first.of(BakeEvent.GarbageCollected.class)).isEmpty();
    assertThat(indexed(store)).contains(images.get(1).toString());

    // a day later: the entries of the earlier version count as used when this one first baked
    Files.setLastModifiedTime(
        store.resolve("stat/gc"), FileTime.fromMillis(System.currentTimeMillis() - 2 * DAY));
    RecordingListener dayLater = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(dayLater).build()) {
      kiln.bake(version(2));
    }
    assertThat(dayLater.of(BakeEvent.GarbageCollected.class))
        .singleElement()
        .satisfies(e -> assertThat(e.report().removed()).isEmpty());

    // another day later, image 1 and its own key have not been used for 40 days
    age(store, images.get(1), 40);
    ageKeys(store, 40);
    Files.setLastModifiedTime(
        store.resolve("stat/gc"), FileTime.fromMillis(System.currentTimeMillis() - 2 * DAY));
    RecordingListener later = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(later).build()) {
      assertThat(kiln.bake(version(0)).digest()).isEqualTo(images.get(0));
      kiln.bake(version(0));
    }
    assertThat(later.of(BakeEvent.GarbageCollected.class))
        .singleElement()
        .satisfies(
            e ->
                assertThat(e.report().removed("image"))
                    .extracting(RetentionReport.Item::id)
                    .containsExactly(images.get(1).toString()));
    assertThat(indexed(store)).doesNotContain(images.get(1).toString());
    assertConsistent(store);
  }
}
