package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.LayerRecord;
import dev.kiln.RetentionReport;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.testing.GcImages;
import dev.kiln.testing.Jvm;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The store's garbage collection reading files of its own that a crash left half-written, that
 * another process is writing, or that something damaged: a live bake's leases, the periodic stamp
 * {@code stat/gc}, image records, key entries, {@code index.json}, and the sessions of a live and
 * of a killed process. Whatever the damage, nothing a live bake leased or a kept image needs goes,
 * the damage is named or repaired, and the next collection runs.
 */
class GcDamagedFilesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long DAY = Duration.ofDays(1).toMillis();
  private static final GcPolicy EVERYTHING = GcPolicy.of().maxBytes(0).grace(Duration.ZERO);

  @TempDir Path tmp;

  private ImageBuild version(int v) throws IOException {
    return GcImages.version(tmp.resolve("work"), v, 64 << 10, 16 << 10);
  }

  private static Kiln kiln(Path store) throws IOException {
    return Kiln.builder().store(store).gc(GcPolicy.none()).build();
  }

  /** Bakes version 0 of the test image into {@code store}. */
  private BakeResult bakeFirst(Path store) throws Exception {
    try (Kiln kiln = kiln(store)) {
      return kiln.bake(version(0));
    }
  }

  private static Kiln kiln(Path store, RecordingListener events) throws IOException {
    return Kiln.builder().store(store).listener(events).gc(GcPolicy.none()).build();
  }

  private static Set<String> blobs(Path store) throws IOException {
    try (Stream<Path> s = Files.list(store.resolve("blobs/sha256"))) {
      return new HashSet<>(s.map(p -> p.getFileName().toString()).toList());
    }
  }

  private static Path blob(Path store, Digest d) {
    return store.resolve("blobs/sha256/" + d.hex());
  }

  private static Path key(Path store, LayerRecord l) {
    return store.resolve("keys/" + l.key().hex() + ".json");
  }

  private static void setAge(Path p, long millisAgo) throws IOException {
    Files.setLastModifiedTime(p, FileTime.fromMillis(System.currentTimeMillis() - millisAgo));
  }

  /**
   * Every blob matches its digest; every key entry that reads and every {@code index.json} entry
   * names blobs that are there.
   */
  private static void assertConsistent(Path store) throws IOException {
    try (Stream<Path> s = Files.list(store.resolve("blobs/sha256"))) {
      for (Path b : s.toList()) {
        assertThat(Digest.of(Files.readAllBytes(b)).hex()).isEqualTo(b.getFileName().toString());
      }
    }
    try (Stream<Path> s = Files.list(store.resolve("keys"))) {
      for (Path k : s.toList()) {
        JsonNode e;
        try {
          e = JSON.readTree(k.toFile());
        } catch (IOException damaged) {
          continue;
        }
        Path b = store.resolve("blobs/sha256/" + Digest.parse(e.path("digest").asText()).hex());
        assertThat(b).as("blob of key %s", k).exists();
      }
    }
    for (JsonNode m : JSON.readTree(store.resolve("index.json").toFile()).path("manifests")) {
      Path manifest =
          store.resolve("blobs/sha256/" + Digest.parse(m.path("digest").asText()).hex());
      assertThat(manifest).as("manifest of index entry %s", m).exists();
      JsonNode doc = JSON.readTree(manifest.toFile());
      List<JsonNode> refs = new ArrayList<>();
      refs.add(doc.path("config"));
      doc.path("layers").forEach(refs::add);
      for (JsonNode r : refs) {
        assertThat(store.resolve("blobs/sha256/" + Digest.parse(r.path("digest").asText()).hex()))
            .as("blob %s of index entry %s", r, m)
            .exists();
      }
    }
  }

  /** Bakes {@code version} again: it must give {@code expected} with exactly these provisioned. */
  private void rebake(Path store, int version, Digest expected, String... provisioned)
      throws Exception {
    RecordingListener events = new RecordingListener();
    try (Kiln kiln = kiln(store, events)) {
      assertThat(kiln.bake(version(version)).digest()).isEqualTo(expected);
    }
    assertThat(events.provisioned())
        .as("layers provisioned again for version %s", version)
        .containsExactlyInAnyOrder(provisioned);
  }

  // ---- a live session's leases ----

  /** Damages a live session's lease file, whose one whole line leases a blob, as {@code how}. */
  private static void damageLeases(Path leases, String how, Digest leased) throws IOException {
    switch (how) {
      case "cut mid-line" -> Files.writeString(leases, "b " + leased.hex().substring(0, 20));
      case "binary junk" -> {
        byte[] junk = new byte[300];
        new Random(7).nextBytes(junk);
        Files.write(leases, junk, StandardOpenOption.APPEND);
      }
      case "not a digest" ->
          Files.writeString(leases, "b not-a-digest\n", StandardOpenOption.APPEND);
      case "a huge line" ->
          Files.writeString(leases, "x".repeat(8 << 20), StandardOpenOption.APPEND);
      case "a directory" -> {
        Files.delete(leases);
        Files.createDirectory(leases);
      }
      default -> throw new IllegalArgumentException(how);
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {"cut mid-line", "binary junk", "not a digest", "a huge line", "a directory"})
  void aLiveSessionsDamagedLeasesKeepEveryBlobNameTheFileAndTheNextCollectionRuns(String how)
      throws Exception {
    Path store = tmp.resolve("store");
    BakeResult a;
    BakeResult b;
    try (Kiln kiln = kiln(store)) {
      a = kiln.bake(version(0));
      b = kiln.bake(version(1));
    }
    Digest leased = a.layers().get(1).digest();
    Digest other = b.layers().get(1).digest();
    // another process's bake, as the store sees it: a live session that has looked the blob up
    try (LocalStore bake = LocalStore.open(store)) {
      LocalStore.StoreLock use = bake.use();
      assertThat(bake.hasBlob(leased)).isTrue();
      Path leases = bake.newTempFile("").getParent().resolve("leases");
      assertThat(Files.readString(leases)).isEqualTo("b " + leased.hex() + "\n");
      damageLeases(leases, how, leased);
      Set<String> before = blobs(store);

      RetentionReport r;
      try (Kiln kiln = kiln(store)) {
        r = kiln.gc(EVERYTHING);
      }
      assertThat(blobs(store))
          .as("blobs after a collection that could not read leases")
          .isEqualTo(before);
      assertThat(r.removed("blob")).isEmpty();
      assertThat(r.kept())
          .anyMatch(i -> i.id().equals(leased.toString()) && i.reason().contains("running bake"));
      assertThat(r.kept())
          .filteredOn(i -> i.id().equals(other.toString()))
          .singleElement()
          .satisfies(
              i ->
                  assertThat(i.reason())
                      .startsWith("maybe in use by a running bake: the leases " + leases)
                      .contains("of a live session do not read"));
      assertConsistent(store);

      // the bake ends (its leases go), and the next collection removes what nothing keeps
      use.close();
      try (Kiln kiln = kiln(store)) {
        r = kiln.gc(EVERYTHING);
      }
      assertThat(r.kept()).noneMatch(i -> i.reason().contains("running bake"));
      assertThat(r.removed("blob"))
          .extracting(RetentionReport.Item::id)
          .contains(leased.toString(), other.toString());
      assertThat(blobs(store)).isEmpty();
      assertConsistent(store);
    }
    rebake(store, 0, a.digest(), "base", "app");
  }

  @Test
  void anEmptyLeaseFileOfALiveSessionLeasesNothing() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult a = bakeFirst(store);
    try (LocalStore bake = LocalStore.open(store)) {
      LocalStore.StoreLock use = bake.use();
      Files.createFile(bake.newTempFile("").getParent().resolve("leases"));
      RetentionReport r;
      try (Kiln kiln = kiln(store)) {
        r = kiln.gc(EVERYTHING);
      }
      assertThat(r.kept()).noneMatch(i -> i.reason().contains("running bake"));
      assertThat(r.removed("image"))
          .extracting(RetentionReport.Item::id)
          .contains(a.digest().toString());
      assertThat(blobs(store)).isEmpty();
      use.close();
    }
    rebake(store, 0, a.digest(), "base", "app");
  }

  /**
   * A live session's lease file grows while collections run one after the other: the collector
   * reads it between appends (they exclude each other), never sees a line cut short, and never
   * removes the blob it leases.
   */
  @Test
  void leasesAppendedWhileCollectionsReadThemAreReadWhole() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult a = bakeFirst(store);
    Digest leased = a.layers().get(1).digest();
    try (LocalStore bake = LocalStore.open(store)) {
      LocalStore.StoreLock use = bake.use();
      assertThat(bake.hasBlob(leased)).isTrue();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger appended = new AtomicInteger();
      AtomicReference<Throwable> failed = new AtomicReference<>();
      Thread appender =
          new Thread(
              () -> {
                try {
                  for (int i = 0; !stop.get(); i++) {
                    bake.hasBlob(Digest.of(("looked up " + i).getBytes(StandardCharsets.UTF_8)));
                    appended.incrementAndGet();
                  }
                } catch (Throwable t) {
                  failed.set(t);
                }
              });
      appender.start();
      try (Kiln kiln = kiln(store)) {
        for (int i = 0; i < 20 || appended.get() < 200; i++) {
          assertThat(failed.get()).isNull();
          RetentionReport r = kiln.gc(EVERYTHING);
          assertThat(r.kept()).noneMatch(k -> k.reason().startsWith("maybe"));
          assertThat(blob(store, leased)).exists();
        }
      } finally {
        stop.set(true);
        appender.join();
      }
      assertThat(failed.get()).isNull();
      assertThat(Files.size(bake.newTempFile("").getParent().resolve("leases")))
          .isGreaterThanOrEqualTo(200L * 67);
      use.close();
    }
    assertConsistent(store);
  }

  // ---- a live and a killed process ----

  /**
   * {@code LeaseHolder STORE HEX}: opens the store, starts a use, looks the blob up, prints {@code
   * leased} and waits to be killed.
   */
  public static final class LeaseHolder {
    public static void main(String[] args) throws Exception {
      LocalStore store = LocalStore.open(Path.of(args[0]));
      store.use();
      if (!store.hasBlob(Digest.parse("sha256:" + args[1]))) {
        System.out.println("missing");
        System.exit(1);
      }
      System.out.println("leased");
      System.out.flush();
      Thread.sleep(TimeUnit.MINUTES.toMillis(5));
    }
  }

  private Process holder(Path store, Digest blob, String name) throws Exception {
    Path log = tmp.resolve(name + ".log");
    Process p = Jvm.start(LeaseHolder.class, log, store.toString(), blob.hex());
    for (int i = 0; i < 600 && !Files.readString(log).contains("leased"); i++) {
      assertThat(p.isAlive()).as("%s: %s", name, Files.readString(log)).isTrue();
      Thread.sleep(100);
    }
    assertThat(Files.readString(log)).as(name).contains("leased");
    return p;
  }

  @Test
  void theLeasesOfAKilledProcessCountForNothingAndThoseOfALiveOneKeepItsBlobs() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult a;
    BakeResult b;
    try (Kiln kiln = kiln(store)) {
      a = kiln.bake(version(0));
      b = kiln.bake(version(1));
    }
    Digest aliveBlob = a.layers().get(1).digest();
    Digest killedBlob = b.layers().get(1).digest();
    Process alive = holder(store, aliveBlob, "alive");
    try {
      Process killed = holder(store, killedBlob, "killed");
      killed.destroyForcibly().waitFor();
      RetentionReport r;
      try (Kiln kiln = kiln(store)) {
        // a dead session that no open of the store swept yet, with leases that do not read
        String dead = UUID.randomUUID().toString();
        Files.createFile(store.resolve("tmp/" + dead + ".lock"));
        Files.createDirectories(store.resolve("tmp/" + dead));
        Files.write(store.resolve("tmp/" + dead + "/leases"), new byte[] {(byte) 0xff, 'b', ' '});
        r = kiln.gc(EVERYTHING);
      }
      assertThat(r.kept())
          .anyMatch(
              i ->
                  i.id().equals(aliveBlob.toString())
                      && i.reason().equals("in use by a running bake"));
      assertThat(r.kept()).noneMatch(i -> i.reason().startsWith("maybe"));
      assertThat(r.removed("blob"))
          .extracting(RetentionReport.Item::id)
          .contains(killedBlob.toString());
      assertThat(blob(store, aliveBlob)).exists();
      assertThat(blob(store, killedBlob)).doesNotExist();
      assertConsistent(store);
    } finally {
      alive.destroyForcibly().waitFor();
    }
    RetentionReport r;
    try (Kiln kiln = kiln(store)) {
      r = kiln.gc(EVERYTHING);
    }
    assertThat(r.removed("blob"))
        .extracting(RetentionReport.Item::id)
        .contains(aliveBlob.toString());
    assertThat(blobs(store)).isEmpty();
    rebake(store, 0, a.digest(), "base", "app");
  }

  /**
   * A live process whose session lock file this one may not open for writing (another user's
   * process, on a store they share): its leases count.
   */
  @Test
  void aLiveSessionWhoseLockFileThisProcessMayNotWriteStillKeepsWhatItLeases() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult a = bakeFirst(store);
    Digest leased = a.layers().get(1).digest();
    Process alive = holder(store, leased, "other-user");
    Path lock;
    try (Stream<Path> s = Files.list(store.resolve("tmp"))) {
      List<Path> locks = s.filter(p -> p.toString().endsWith(".lock")).toList();
      assertThat(locks).hasSize(1);
      lock = locks.get(0);
    }
    RetentionReport r;
    try {
      writable(lock, false);
      try (Kiln kiln = kiln(store)) {
        r = kiln.gc(EVERYTHING);
      }
      assertThat(blob(store, leased)).exists();
      assertThat(r.kept())
          .anyMatch(
              i ->
                  i.id().equals(leased.toString())
                      && i.reason().equals("in use by a running bake"));
      assertConsistent(store);
    } finally {
      writable(lock, true);
      alive.destroyForcibly().waitFor();
    }
    try (Kiln kiln = kiln(store)) {
      r = kiln.gc(EVERYTHING);
    }
    assertThat(r.removed("blob")).extracting(RetentionReport.Item::id).contains(leased.toString());
    assertThat(blobs(store)).isEmpty();
  }

  /**
   * Makes a file one this process may or may not open for writing: immutable ({@code chattr +i})
   * when it runs as root, read-only otherwise.
   */
  private static void writable(Path f, boolean writable) throws Exception {
    if (!"root".equals(System.getProperty("user.name"))) {
      assertThat(f.toFile().setWritable(writable)).isTrue();
      return;
    }
    String chattr = Tools.require("chattr", "e2fsprogs");
    Process p =
        new ProcessBuilder(chattr, writable ? "-i" : "+i", f.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int rc = p.waitFor();
    if (!writable) {
      assumeTrue(rc == 0, "chattr +i is not supported here: " + out);
    }
  }

  // ---- the periodic stamp ----

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"in the future", "a directory", "a link", "garbled"})
  void aDamagedPeriodicStampNeitherStopsTheCollectionNorIsWrittenThrough(String how)
      throws Exception {
    Path store = tmp.resolve("store");
    GcPolicy monthly = GcPolicy.of().unusedFor(Duration.ofDays(30));
    Digest image;
    try (Kiln kiln = Kiln.builder().store(store).gc(monthly).build()) {
      image = kiln.bake(version(0)).digest();
    }
    Path stamp = store.resolve("stat/gc");
    assertThat(stamp).isRegularFile();
    Path outside = tmp.resolve("outside.txt");
    Files.writeString(outside, "not the store's");
    setAge(outside, 2 * DAY);
    switch (how) {
      case "in the future" -> setAge(stamp, -3650 * DAY);
      case "a directory" -> {
        Files.delete(stamp);
        Files.createDirectories(stamp.resolve("sub"));
        Files.writeString(stamp.resolve("sub/file"), "x");
        setAge(stamp, 2 * DAY);
      }
      case "a link" -> {
        Files.delete(stamp);
        Files.createSymbolicLink(stamp, outside);
      }
      case "garbled" -> {
        Files.write(stamp, new byte[] {0, (byte) 0xff, '{', 'x'});
        setAge(stamp, 2 * DAY);
      }
      default -> throw new IllegalArgumentException(how);
    }

    RecordingListener events = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(events).gc(monthly).build()) {
      assertThat(kiln.bake(version(0)).digest()).isEqualTo(image);
    }
    assertThat(events.of(BakeEvent.Warning.class)).isEmpty();
    assertThat(events.of(BakeEvent.GarbageCollected.class))
        .as("collections after a bake with the stamp %s", how)
        .singleElement()
        .satisfies(e -> assertThat(e.report().removed()).isEmpty());
    assertThat(events.provisioned()).isEmpty();
    assertThat(Files.readString(outside)).isEqualTo("not the store's");
    assertThat(stamp).isRegularFile();
    assertThat(Files.isSymbolicLink(stamp)).isFalse();
    assertThat(Files.getLastModifiedTime(stamp, LinkOption.NOFOLLOW_LINKS).toMillis())
        .isLessThanOrEqualTo(System.currentTimeMillis());

    // the stamp now says a collection just ran; an hour later the next one runs
    RecordingListener next = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(next).gc(monthly).build()) {
      kiln.bake(version(0));
      assertThat(next.of(BakeEvent.GarbageCollected.class)).isEmpty();
      setAge(stamp, Duration.ofHours(2).toMillis());
      kiln.bake(version(0));
    }
    assertThat(next.of(BakeEvent.GarbageCollected.class)).hasSize(1);
    assertConsistent(store);
  }

  // ---- image records, key entries, index.json ----

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"cut", "binary junk", "empty"})
  void aKeptImageWhoseRecordIsDamagedKeepsTheKeysOfItsLayersAndBakesWithoutProvisioning(String how)
      throws Exception {
    Path store = tmp.resolve("store");
    BakeResult a;
    BakeResult b;
    try (Kiln kiln = kiln(store)) {
      a = kiln.bake(version(0));
      b = kiln.bake(version(1));
    }
    Path record = store.resolve("records/" + a.digest().hex() + ".json");
    byte[] text = Files.readAllBytes(record);
    switch (how) {
      case "cut" -> Files.write(record, Arrays.copyOf(text, text.length / 3));
      case "binary junk" -> {
        byte[] junk = new byte[text.length];
        new Random(3).nextBytes(junk);
        Files.write(record, junk);
      }
      case "empty" -> Files.write(record, new byte[0]);
      default -> throw new IllegalArgumentException(how);
    }
    // neither image nor any key was used for 40 days
    setAge(record, 40 * DAY);
    setAge(store.resolve("records/" + b.digest().hex() + ".json"), 40 * DAY);
    try (Stream<Path> s = Files.list(store.resolve("keys"))) {
      for (Path k : s.toList()) {
        setAge(k, 40 * DAY);
      }
    }

    GcPolicy policy = GcPolicy.of().unusedFor(Duration.ofDays(30)).pin(a.digest());
    RetentionReport r;
    try (Kiln kiln = kiln(store)) {
      r = kiln.gc(policy);
    }
    assertThat(r.removed("image"))
        .extracting(RetentionReport.Item::id)
        .containsExactly(b.digest().toString());
    for (LayerRecord l : a.layers()) {
      assertThat(key(store, l)).as("key of layer %s of the pinned image", l.name()).exists();
      assertThat(r.kept())
          .anyMatch(
              i -> i.id().equals(l.key().toString()) && i.reason().contains(record.toString()));
    }
    assertThat(key(store, b.layers().get(1))).doesNotExist();
    for (Digest d : List.of(a.digest(), a.layers().get(0).digest(), a.layers().get(1).digest())) {
      assertThat(blob(store, d)).exists();
    }
    assertConsistent(store);

    // the pinned image bakes from its keys alone, and the bake writes its record again
    rebake(store, 0, a.digest());
    assertThat(JSON.readTree(record.toFile()).path("layers").size()).isEqualTo(2);
    try (Kiln kiln = kiln(store)) {
      r = kiln.gc(policy);
    }
    assertThat(r.removed()).isEmpty();
    assertThat(r.kept())
        .anyMatch(
            i ->
                i.id().equals(a.layers().get(1).key().toString())
                    && i.reason().equals("a layer of kept image " + a.digest()));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"cut", "binary junk"})
  void aDamagedKeyEntryIsRemovedByNameAndItsLayersBlobStaysForTheImage(String how)
      throws Exception {
    Path store = tmp.resolve("store");
    BakeResult a = bakeFirst(store);
    LayerRecord app = a.layers().get(1);
    Path entry = key(store, app);
    byte[] text = Files.readAllBytes(entry);
    if (how.equals("cut")) {
      Files.write(entry, Arrays.copyOf(text, text.length / 2));
    } else {
      byte[] junk = new byte[text.length];
      new Random(5).nextBytes(junk);
      Files.write(entry, junk);
    }
    RetentionReport r;
    try (Kiln kiln = kiln(store)) {
      r = kiln.gc(GcPolicy.of().grace(Duration.ZERO));
    }
    assertThat(r.removed("key"))
        .singleElement()
        .satisfies(
            i -> {
              assertThat(i.id()).isEqualTo(app.key().toString());
              assertThat(i.reason()).contains("keys/" + app.key().hex() + ".json");
            });
    assertThat(r.removed("blob")).isEmpty();
    assertThat(r.removed("image")).isEmpty();
    assertThat(blob(store, app.digest())).exists();
    assertConsistent(store);
    rebake(store, 0, a.digest(), "app");
    try (Kiln kiln = kiln(store)) {
      assertThat(kiln.gc(GcPolicy.of().grace(Duration.ZERO)).removed()).isEmpty();
    }
  }

  @Test
  void aGarbledIndexJsonLosesNoImageThatARecordNames() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult a = bakeFirst(store);
    Set<String> before = blobs(store);
    Files.writeString(store.resolve("index.json"), "{\"manifests\": [{\"digest\": \"sha256:");
    RetentionReport r;
    try (Kiln kiln = kiln(store)) {
      r = kiln.gc(GcPolicy.of().grace(Duration.ZERO));
    }
    assertThat(r.removed()).isEmpty();
    assertThat(blobs(store)).isEqualTo(before);
    // the collection rebuilt the index from the records, and kept what it replaced
    assertThat(JSON.readTree(store.resolve("index.json").toFile()).path("manifests").toString())
        .contains(a.digest().toString());
    assertThat(store.resolve("index.json.corrupt"))
        .hasContent("{\"manifests\": [{\"digest\": \"sha256:");
    rebake(store, 0, a.digest());
    assertConsistent(store);
    try (Kiln kiln = kiln(store)) {
      assertThat(kiln.gc(GcPolicy.of().grace(Duration.ZERO)).removed()).isEmpty();
    }
  }
}
