package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.BakeResult;
import dev.kiln.Digest;
import dev.kiln.Kiln;
import dev.kiln.LayerRecord;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.Tools;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of a baker at twenty moments spread over a cold bake of the JDK's installation
 * tree (about 260 MB: the large input of the core benchmark) and a small second layer, into a local
 * store, an {@code oci-archive:} target and an {@code oci:} target, from a child JVM. After every
 * kill, before anything repairs it, the store holds only whole blobs that match their digests, key
 * entries whose blobs are there, and images that real {@code skopeo} copies; then a normal bake on
 * that store gives the reference digest and byte-identical targets, and leaves no temp file in the
 * store or next to the targets.
 *
 * <p>The moments: {@value #SPREAD} spread evenly over the reference bake's duration D with a seeded
 * jitter, each taken as an offset after the last bake event that preceded it in the reference bake
 * (so a slower machine still kills in the same phase); one kill held right after the JDK layer is
 * committed; one as soon as the image's config is in the store; one held while the archive is half
 * written. Every phase (hashing, compressing, committing, assembling, publishing) gets a kill. One
 * store serves every round: between rounds the image's key entries, blobs, chunk hints, stat index
 * and the targets are removed, so each round bakes cold again, on whatever earlier kills left in
 * the store. The bakes use gzip level 1, which changes how long compressing takes and nothing else.
 */
class KillNineIT {
  private static final long SEED = 0x6b696c6cL;
  private static final int SPREAD = 17;
  private static final int KILLS = 20;
  private static final String JDK = "jdk";
  private static final List<String> PHASES =
      List.of("hashing", "compressing", "committing", "assembling", "publishing");

  @TempDir Path tmp;

  private String skopeo;
  private final Map<String, String> verified = new ConcurrentHashMap<>();

  /**
   * A moment to kill at: {@code delayMicros} after the baker prints the line {@code anchor}; or,
   * with {@code hold}, while the baker is held right after it; or, for an anchor {@code file:NAME},
   * as soon as the store has that blob.
   */
  record Moment(String anchor, long delayMicros, boolean hold, String phase) {
    @Override
    public String toString() {
      return hold ? "held at '" + anchor + "'" : anchor + " + " + delayMicros / 1000.0 + " ms";
    }
  }

  /**
   * What the reference bake gave: digests, keys, the archive's hash, and when each event first
   * happened.
   */
  record Reference(
      BakeResult result,
      String archiveSha256,
      Path layout,
      Map<String, Long> eventMicros,
      long durationMicros) {}

  @Test
  void killNineAtTwentyMomentsOfAJdkBakeLeavesAStoreTheNextBakeCompletes() throws Exception {
    skopeo = Tools.require("skopeo", "skopeo");
    Path jdk = jdkTree();
    Reference ref = referenceBake(jdk);
    Path store = tmp.resolve("store");
    Path out = tmp.resolve("out");
    List<Moment> moments = moments(ref, "BytesWritten " + archiveTarget(out));

    Map<String, Integer> phases = new TreeMap<>();
    List<String> leftovers = new ArrayList<>();
    int kills = 0;
    int round = 0;
    for (Moment m : moments) {
      // a moment the bake outran, or a kill meant for a short phase that missed it, is tried again
      // (sooner)
      for (int attempt = 0;
          attempt < 4;
          attempt++, m = new Moment(m.anchor(), m.delayMicros() / 4, m.hold(), m.phase())) {
        round++;
        Killed k = bakeAndKill(store, jdk, out, m, round);
        String phase = k.finished() ? "finished" : phase(k, store, ref);
        System.out.printf(
            "round %d (%s): %s%n",
            round, m, k.finished() ? "the bake finished before the kill" : "killed while " + phase);
        String where = "round " + round + " (" + m + ", killed while " + phase + ")";
        if (!k.finished()) {
          kills++;
          phases.merge(phase, 1, Integer::sum);
          checkWhatAKillLeaves(store, where);
        }
        leftovers.addAll(bakeAgainAndCheck(store, out, ref, where));
        makeCold(store, out, ref);
        if (!k.finished() && (m.phase() == null || m.phase().equals(phase))) {
          break;
        }
      }
    }
    System.out.println("kills by phase: " + phases);
    assertThat(kills)
        .as("kills that landed while the baker was running")
        .isGreaterThanOrEqualTo(KILLS);
    assertThat(phases.keySet()).as("phases a kill landed in").containsAll(PHASES);
    assertThat(leftovers)
        .as("temp files left next to the targets after a kill and a normal bake")
        .isEmpty();
  }

  // ---- the reference bake and the moments ----

  /** The JDK's installation tree, as the core benchmark chooses it (the JDK running this test). */
  private static Path jdkTree() throws IOException {
    Path home = Path.of(System.getProperty("java.home")).toRealPath();
    assertThat(home.resolve("lib").resolve("modules"))
        .as("a JDK installation tree at " + home)
        .exists();
    return home;
  }

  /**
   * A cold bake in this process: the digest the killed store must give, and the bake's timeline.
   */
  private Reference referenceBake(Path jdk) throws Exception {
    Map<String, Long> at = new ConcurrentHashMap<>();
    long t0 = System.nanoTime();
    Path refOut = tmp.resolve("ref");
    BakeResult r;
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp.resolve("ref-store"))
            .compressionLevel(KillNineBakeMain.LEVEL)
            .watchFileSystem(false)
            .listener(e -> at.putIfAbsent(line(e), (System.nanoTime() - t0) / 1000))
            .build()) {
      r = kiln.bake(KillNineBakeMain.definition(jdk), archiveTarget(refOut), layoutTarget(refOut));
    }
    long d = (System.nanoTime() - t0) / 1000;
    assertThat(r.provisioned()).containsExactlyInAnyOrder(JDK, "app");
    // the reference itself is what real tools read
    skopeoCopy("oci-archive:" + refOut.resolve(JDK + ".tar") + ":kiln");
    skopeoCopy(layoutTarget(refOut));
    System.out.printf(
        "reference bake: %s in %d ms; events (µs): %s%n", r.digest(), d / 1000, new TreeMap<>(at));
    return new Reference(r, sha256(refOut.resolve(JDK + ".tar")), refOut.resolve("layout"), at, d);
  }

  private static String line(BakeEvent e) {
    return KillNineBakeMain.type(e) + " " + KillNineBakeMain.subject(e);
  }

  /**
   * {@value #SPREAD} moments spread over [0, D] with a seeded jitter, each as an offset after the
   * reference event before it; then the short phases: held right after the JDK layer is committed,
   * as soon as the config is stored, and held while the archive is half written.
   */
  private static List<Moment> moments(Reference ref, String archiveProgress) {
    List<String> anchors =
        List.of(
            "InputsHashed " + JDK,
            "LayerStarted " + JDK,
            "LayerProvisioned " + JDK,
            "ImageAssembled -");
    Random random = new Random(SEED);
    long d = ref.durationMicros();
    List<Moment> out = new ArrayList<>();
    for (int i = 0; i < SPREAD; i++) {
      double jitter = (random.nextDouble() - 0.5) * 0.8;
      long at = Math.max(0, Math.min(d - 1, (long) (d * (i + 0.5 + jitter) / SPREAD)));
      String anchor = "ready";
      long anchorAt = 0;
      for (String a : anchors) {
        Long t = ref.eventMicros().get(a);
        if (t != null && t <= at && t >= anchorAt) {
          anchor = a;
          anchorAt = t;
        }
      }
      out.add(new Moment(anchor, at - anchorAt, false, null));
    }
    out.add(new Moment("LayerProvisioned " + JDK, 0, true, "committing"));
    out.add(new Moment("file:" + ref.result().configDigest().hex(), 0, false, "assembling"));
    out.add(new Moment(archiveProgress, 0, true, "publishing"));
    return out;
  }

  // ---- one round: bake in a child JVM and kill it ----

  /** The killed baker's output; {@code finished} when it completed before the kill. */
  record Killed(List<String> lines, boolean finished) {
    boolean saw(String event) {
      return lines.stream()
          .anyMatch(
              l -> l.startsWith("event ") && l.substring(l.indexOf(' ', 6) + 1).equals(event));
    }
  }

  private Killed bakeAndKill(Path store, Path jdk, Path out, Moment m, int round) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                KillNineBakeMain.class.getName(),
                store.toString(),
                jdk.toString()));
    if (m.hold()) {
      cmd.add("--hold=" + m.anchor());
    }
    cmd.add(archiveTarget(out));
    cmd.add(layoutTarget(out));
    WatchService watch = null;
    if (m.anchor().startsWith("file:")) {
      watch = store.getFileSystem().newWatchService();
      Files.createDirectories(store.resolve("blobs/sha256"))
          .register(watch, StandardWatchEventKinds.ENTRY_CREATE);
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    List<String> lines = new CopyOnWriteArrayList<>();
    Object arrived = new Object();
    Thread reader =
        new Thread(() -> read(p.getInputStream(), lines, arrived), "baker-output-" + round);
    reader.setDaemon(true);
    reader.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
      if (watch != null) {
        awaitFile(
            watch,
            store.resolve("blobs/sha256").resolve(m.anchor().substring("file:".length())),
            p,
            deadline);
      } else {
        awaitLine(lines, arrived, m.hold() ? "holding" : m.anchor(), p, deadline);
      }
      long killAt = System.nanoTime() + m.delayMicros() * 1000;
      if (m.delayMicros() > 2000) {
        Thread.sleep((killAt - System.nanoTime()) / 1_000_000);
      }
      while (System.nanoTime() < killAt) {
        Thread.onSpinWait();
      }
      p.destroyForcibly();
    } finally {
      p.destroyForcibly();
      if (watch != null) {
        watch.close();
      }
    }
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the baker died").isTrue();
    reader.join(10_000);
    boolean finished = lines.stream().anyMatch(l -> l.startsWith("image="));
    if (!finished) {
      // destroyForcibly is SIGKILL on Linux: the JVM ran no shutdown hook, closed nothing, finished
      // no write
      assertThat(p.exitValue())
          .as("exit status of a process killed by SIGKILL:\n" + String.join("\n", lines))
          .isEqualTo(128 + 9);
    }
    return new Killed(List.copyOf(lines), finished);
  }

  private static void awaitLine(
      List<String> lines, Object arrived, String wanted, Process p, long deadline)
      throws Exception {
    synchronized (arrived) {
      while (!seen(lines, wanted)) {
        if (!p.isAlive() || System.nanoTime() > deadline) {
          Thread.sleep(200); // the last lines
          fail(
              "the baker "
                  + (p.isAlive() ? "never printed '" : "ended before '")
                  + wanted
                  + "':\n"
                  + String.join("\n", lines));
        }
        arrived.wait(20);
      }
    }
  }

  private static void awaitFile(WatchService watch, Path file, Process p, long deadline)
      throws Exception {
    while (!Files.exists(file)) {
      WatchKey key = watch.poll(20, TimeUnit.MILLISECONDS);
      if (key != null) {
        key.pollEvents();
        key.reset();
      }
      if (!p.isAlive() || System.nanoTime() > deadline) {
        fail("the baker did not store " + file);
      }
    }
  }

  private static String archiveTarget(Path out) {
    return "oci-archive:" + out.resolve(JDK + ".tar") + ":kiln";
  }

  private static String layoutTarget(Path out) {
    return "oci:" + out.resolve("layout") + ":kiln";
  }

  private static boolean seen(List<String> lines, String wanted) {
    for (String l : lines) {
      if (l.equals(wanted)
          || l.startsWith("event ") && l.substring(l.indexOf(' ', 6) + 1).equals(wanted)) {
        return true;
      }
    }
    return false;
  }

  private static void read(InputStream in, List<String> lines, Object arrived) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String l; (l = r.readLine()) != null; ) {
        lines.add(l);
        synchronized (arrived) {
          arrived.notifyAll();
        }
      }
    } catch (IOException e) {
      // the process is gone
    }
  }

  /** Where the bake was when it died, by the events it had emitted and what the store held. */
  private static String phase(Killed k, Path store, Reference ref) throws IOException {
    BakeResult r = ref.result();
    Path blobs = store.resolve("blobs/sha256");
    boolean imageStarted =
        Files.exists(blobs.resolve(r.configDigest().hex()))
            || Files.exists(blobs.resolve(r.digest().hex()));
    if (!k.saw("InputsHashed " + JDK)) {
      return "hashing";
    }
    if (!Files.exists(blobs.resolve(layer(ref, JDK).digest().hex()))) {
      return "compressing";
    }
    if (!k.saw("ImageAssembled -")) {
      return imageStarted ? "assembling" : "committing";
    }
    return k.lines().stream().filter(l -> l.contains(" ImagePublished ")).count() < 2
        ? "publishing"
        : "finishing";
  }

  private static LayerRecord layer(Reference ref, String name) {
    return ref.result().layers().stream()
        .filter(l -> l.name().equals(name))
        .findFirst()
        .orElseThrow();
  }

  // ---- the checks ----

  /**
   * What a kill leaves, before anything repairs it: every blob is whole and matches its digest,
   * every key entry names a blob of its size, every image index.json names is complete (real skopeo
   * copies it), and no temp file is anywhere but in the store's temp area.
   */
  private void checkWhatAKillLeaves(Path store, String where) throws Exception {
    if (!Files.isDirectory(store.resolve("keys"))) {
      return; // killed before the store was created
    }
    assertThat(tempFilesOutside(store, store.resolve("tmp")))
        .as(where + ": temp files outside the store's tmp/")
        .isEmpty();
    checkBlobs(store, where);
    ObjectMapper json = new ObjectMapper();
    try (Stream<Path> s = Files.list(store.resolve("keys"))) {
      for (Path k : s.toList()) {
        JsonNode e = json.readTree(k.toFile());
        Path blob =
            store.resolve("blobs/sha256").resolve(Digest.parse(e.path("digest").asText()).hex());
        assertThat(blob).as(where + ": blob of key entry " + k.getFileName()).exists();
        assertThat(Files.size(blob))
            .as(where + ": size of the blob of " + k.getFileName())
            .isEqualTo(e.path("size").asLong());
      }
    }
    Path index = store.resolve("index.json");
    if (!Files.exists(index)) {
      // killed while the store was first created: nothing is in it yet, it does not claim to be an
      // OCI layout, and
      // the next open completes it
      assertThat(blobNames(store)).as(where + ": blobs of a store without index.json").isEmpty();
      assertThat(store.resolve("oci-layout"))
          .as(where + ": an oci-layout marker without index.json")
          .doesNotExist();
      return;
    }
    for (JsonNode m : json.readTree(index.toFile()).path("manifests")) {
      skopeoCopy(
          "oci:"
              + store
              + ":"
              + m.path("annotations").path("org.opencontainers.image.ref.name").asText());
    }
  }

  /**
   * A normal bake on the killed store: the reference digest, byte-identical targets that skopeo
   * copies, nothing left in the store's temp area. Returns the temp files left next to the targets.
   */
  private List<String> bakeAgainAndCheck(Path store, Path out, Reference ref, String where)
      throws Exception {
    BakeResult r;
    try (Kiln kiln =
        Kiln.builder()
            .store(store)
            .compressionLevel(KillNineBakeMain.LEVEL)
            .watchFileSystem(false)
            .build()) {
      r = kiln.bake(KillNineBakeMain.definition(jdkTree()), archiveTarget(out), layoutTarget(out));
    }
    assertThat(r.digest())
        .as(where + ": the digest of a bake after the kill")
        .isEqualTo(ref.result().digest());
    assertThat(r.layers()).as(where + ": layers").isEqualTo(ref.result().layers());
    try (Stream<Path> s = Files.list(store.resolve("tmp"))) {
      assertThat(s.toList()).as(where + ": the store's tmp/ after the bake ended").isEmpty();
    }
    assertThat(tempFilesOutside(store, store.resolve("tmp")))
        .as(where + ": temp files in the store")
        .isEmpty();
    checkBlobs(store, where);
    skopeoCopy("oci:" + store + ":" + r.digest().hex());
    // the targets: the reference archive byte for byte; the reference layout's index and blobs,
    // each blob checked
    assertThat(sha256(out.resolve(JDK + ".tar")))
        .as(where + ": the archive is the reference archive")
        .isEqualTo(ref.archiveSha256());
    Path layout = out.resolve("layout");
    assertThat(Files.readString(layout.resolve("index.json")))
        .as(where + ": the oci: target's index.json")
        .isEqualTo(Files.readString(ref.layout().resolve("index.json")));
    assertThat(blobNames(layout))
        .as(where + ": the oci: target's blobs")
        .containsAll(blobNames(ref.layout()));
    checkBlobs(layout, where);
    List<String> left = new ArrayList<>();
    for (Path f : tempFilesOutside(out, null)) {
      left.add(where + ": " + out.relativize(f));
    }
    return left;
  }

  private static List<String> blobNames(Path layout) throws IOException {
    try (Stream<Path> s = Files.list(layout.resolve("blobs/sha256"))) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /**
   * Every blob of an OCI layout hashes to its name. Unchanged files (same inode, size, mtime) are
   * hashed once.
   */
  private void checkBlobs(Path layout, String where) throws Exception {
    try (Stream<Path> s = Files.list(layout.resolve("blobs/sha256"))) {
      for (Path b : s.filter(Files::isRegularFile).toList()) {
        String name = b.getFileName().toString();
        if (!name.matches("[0-9a-f]{64}")) {
          continue; // a temp file: reported by the leftover checks
        }
        BasicFileAttributes a = Files.readAttributes(b, BasicFileAttributes.class);
        String id = b + " " + a.fileKey() + " " + a.size() + " " + a.lastModifiedTime().toMillis();
        if (!name.equals(verified.get(id))) {
          assertThat(sha256(b)).as(where + ": blob " + b + " matches its digest").isEqualTo(name);
          verified.put(id, name);
        }
      }
    }
  }

  /**
   * Files under dir (outside {@code except}) that are a writer's temp files rather than content.
   */
  private static List<Path> tempFilesOutside(Path dir, Path except) throws IOException {
    Set<String> known = Set.of("oci-layout", "index.json", ".kiln-index.lock", JDK + ".tar");
    List<Path> out = new ArrayList<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.toList()) {
        if (except != null && p.startsWith(except)
            || !Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        String name = p.getFileName().toString();
        Path parent = dir.relativize(p.getParent());
        boolean blob = parent.endsWith(Path.of("blobs", "sha256")) && name.matches("[0-9a-f]{64}");
        boolean storeFile =
            name.endsWith(".json")
                || name.endsWith(".lock")
                || parent.startsWith("chunks")
                || parent.toString().equals("stat")
                    && (name.equals("index")
                        || name.equals("blobs")
                        || name.equals("outputs")
                        || name.equals("gc"));
        if (!blob && !known.contains(name) && !(except != null && storeFile)) {
          out.add(p);
        }
      }
    }
    return out;
  }

  /** Removes the image from the store and the targets, so the next round bakes cold. */
  private static void makeCold(Path store, Path out, Reference ref) throws IOException {
    BakeResult r = ref.result();
    Path blobs = store.resolve("blobs/sha256");
    for (LayerRecord l : r.layers()) {
      Files.deleteIfExists(store.resolve("keys").resolve(l.key().hex() + ".json"));
      Files.deleteIfExists(blobs.resolve(l.digest().hex()));
    }
    Files.deleteIfExists(blobs.resolve(r.configDigest().hex()));
    Files.deleteIfExists(blobs.resolve(r.digest().hex()));
    Path index = store.resolve("index.json");
    ObjectMapper json = new ObjectMapper();
    ObjectNode idx = (ObjectNode) json.readTree(index.toFile());
    ArrayNode kept = idx.putArray("manifests");
    json.readTree(index.toFile())
        .path("manifests")
        .forEach(
            m -> {
              if (!m.path("digest").asText().equals(r.digest().toString())) {
                kept.add(m);
              }
            });
    Path next = index.resolveSibling("index.json.next");
    json.writeValue(next.toFile(), idx);
    Files.move(next, index, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    deleteTree(store.resolve("chunks"));
    deleteTree(store.resolve("records"));
    Files.deleteIfExists(store.resolve("stat/index"));
    deleteTree(out);
  }

  private void skopeoCopy(String from) throws IOException {
    Path to = Files.createTempDirectory(tmp, "copy");
    try {
      Tools.run(skopeo, "--insecure-policy", "copy", "--quiet", from, "oci:" + to + ":copy").ok();
    } finally {
      deleteTree(to);
    }
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    byte[] buf = new byte[1 << 20];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
