package dev.kiln.docker.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Digest;
import dev.kiln.Kiln;
import dev.kiln.LayerRecord;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Tools;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of a baker at {@value #ROUNDS} random moments spread over a cold bake whose only
 * target is the Docker daemon (so the layers go into a load that starts while they are written): a
 * busybox root file system and a files layer of a 48 MiB tree, from a child JVM; a kill while the
 * layers are written cuts a load in progress. After every kill, before anything repairs it, every
 * key entry of the store names a blob that is there, of its size, and matches its digest, and every
 * blob matches its name; then a normal bake on that store gives the reference digest, the daemon
 * holds the image under the tag with the config digest as its id, and no kept tar or other temp
 * file is left in the store. Between rounds the layers' keys and blobs and the daemon's image are
 * removed, so every round bakes cold on what earlier kills left.
 */
class DaemonKillNineIT {
  private static final long SEED = 0x6b696c6c39L;
  private static final int ROUNDS = 10;

  /** A kill delay that means: as soon as the baker reports the image assembled. */
  private static final long AT_ASSEMBLY = -1;

  /** A kill delay that means: as soon as the baker's {@code Kiln.bakeEarly} returned. */
  private static final long AT_RETURN = -2;

  private static final boolean EARLY = true;

  @TempDir Path tmp;

  private final String image =
      "kiln-it-kill9/img:t" + Long.toHexString(new Random().nextLong() & Long.MAX_VALUE);

  @AfterEach
  void removeImage() {
    Tools.run("/usr/bin/docker", "rmi", "-f", image);
  }

  @Test
  void killNineDuringADaemonOnlyBakeLeavesAStoreTheNextBakeUses() throws Exception {
    String docker = Tools.requireDocker();
    Path rootfs = Busybox.rootfs(tmp);
    Path tree = tree(tmp.resolve("tree"));
    // the reference: a cold bake in this process, timed
    long t0 = System.nanoTime();
    BakeResult ref = bake(tmp.resolve("ref-store"), rootfs, tree);
    long refMillis = (System.nanoTime() - t0) / 1_000_000;
    assertThat(ref.published().get("docker-daemon:" + image).details())
        .as("both layers went into the load while they were written")
        .containsEntry("layersStreamed", "2");
    Tools.run(docker, "rmi", "-f", image).ok();
    // a baker process is slower than this warm JVM: spread the kills over a whole child's bake
    refMillis = Math.max(refMillis, childBakeMillis(tmp.resolve("child-store"), rootfs, tree));
    Tools.run(docker, "rmi", "-f", image).ok();
    System.out.printf("reference bake: %s in %d ms%n", ref.digest(), refMillis);

    Path store = tmp.resolve("store");
    Random random = new Random(SEED);
    TreeMap<String, Integer> phases = new TreeMap<>();
    int kills = 0;
    for (int round = 0; round < ROUNDS; round++) {
      // spread over the bake, a child JVM's start (before "ready") not counted
      long delay = (long) (refMillis * (round + random.nextDouble()) / ROUNDS);
      if (round == ROUNDS - 1) {
        // publishing is short when the layers went into the daemon while they were written: the
        // last round kills as the image is assembled, so that a kill lands there on any machine
        delay = AT_ASSEMBLY;
      }
      List<String> lines = bakeAndKill(store, rootfs, tree, delay, round);
      boolean finished = lines.stream().anyMatch(l -> l.startsWith("image="));
      // a bake faster than the reference outran the kill: once more, sooner (on what it left)
      for (int attempt = 0; finished && attempt < 2; attempt++) {
        makeCold(store, ref, docker);
        delay = delay == AT_ASSEMBLY ? delay : delay * 2 / 3;
        lines = bakeAndKill(store, rootfs, tree, delay, round);
        finished = lines.stream().anyMatch(l -> l.startsWith("image="));
      }
      String phase = finished ? "finished" : phase(lines);
      phases.merge(phase, 1, Integer::sum);
      String when = delay == AT_ASSEMBLY ? "kill at assembly" : "kill after " + delay + " ms";
      String where = "round " + round + " (" + when + ", " + phase + ")";
      System.out.println(where);
      if (!finished) {
        kills++;
      }
      checkWhatAKillLeaves(store, where);
      BakeResult again = bake(store, rootfs, tree);
      assertThat(again.digest()).as(where + ": digest of the next bake").isEqualTo(ref.digest());
      assertThat(again.layers()).as(where + ": layers").isEqualTo(ref.layers());
      assertThat(Tools.run(docker, "image", "inspect", "--format", "{{.Id}}", image).ok().output())
          .as(where + ": the daemon's image")
          .isEqualToIgnoringWhitespace(ref.configDigest().toString());
      try (Stream<Path> s = Files.list(store.resolve("tmp"))) {
        assertThat(s.toList()).as(where + ": the store's tmp/ after the next bake").isEmpty();
      }
      checkWhatAKillLeaves(store, where + ", after the next bake");
      makeCold(store, ref, docker);
    }
    System.out.println("rounds by phase: " + phases);
    assertThat(kills)
        .as("kills that landed while the baker ran")
        .isGreaterThanOrEqualTo(ROUNDS - 1);
    assertThat(phases.keySet())
        .as("phases a kill landed in")
        .contains("provisioning", "publishing");
  }

  /**
   * {@code kill -9} of a baker right after {@code Kiln.bakeEarly} returned, while the store catches
   * up (compressing, committing keys, assembling, recording): the daemon keeps the image it named,
   * the store holds no key without its blob, and the next bake gives the same image, found in the
   * daemon.
   */
  @Test
  void killNineWhileAnEarlyBakeCatchesUpLeavesAStoreTheNextBakeUses() throws Exception {
    String docker = Tools.requireDocker();
    Path rootfs = Busybox.rootfs(tmp);
    Path tree = tree(tmp.resolve("tree"));
    BakeResult ref = bake(tmp.resolve("ref-store"), rootfs, tree, EARLY);
    Tools.run(docker, "rmi", "-f", image).ok();
    Path store = tmp.resolve("store");
    int landed = 0;
    for (int round = 0; round < 3; round++) {
      List<String> lines = bakeAndKill(store, rootfs, tree, AT_RETURN, round);
      String where = "early round " + round + ":\n" + String.join("\n", lines);
      assertThat(lines).as(where).contains("returned early=true");
      boolean finished = lines.stream().anyMatch(l -> l.startsWith("image="));
      if (!finished) {
        landed++;
      }
      System.out.println(
          "early round " + round + ": " + (finished ? "the store caught up first" : "killed"));
      assertThat(Tools.run(docker, "image", "inspect", "--format", "{{.Id}}", image).ok().output())
          .as(where + ": the image the daemon was given, named before the kill")
          .isEqualToIgnoringWhitespace(ref.configDigest().toString());
      checkWhatAKillLeaves(store, "early round " + round);
      BakeResult again = bake(store, rootfs, tree, EARLY);
      assertThat(again.digest()).as(where + ": digest of the next bake").isEqualTo(ref.digest());
      assertThat(again.published().get("docker-daemon:" + image).reused())
          .as(where + ": the next bake found the image in the daemon")
          .isTrue();
      checkWhatAKillLeaves(store, "early round " + round + ", after the next bake");
      makeCold(store, ref, docker);
    }
    assertThat(landed).as("kills that landed before the store caught up").isGreaterThanOrEqualTo(2);
  }

  /** 48 MiB in 12 files of compressible pseudo-random bytes, the same every time. */
  private static Path tree(Path dir) throws IOException {
    Files.createDirectories(dir);
    Random r = new Random(5);
    byte[] words = new byte[1 << 20];
    for (int f = 0; f < 12; f++) {
      try (OutputStream out = Files.newOutputStream(dir.resolve("file-" + f + ".bin"))) {
        for (int m = 0; m < 4; m++) {
          for (int i = 0; i < words.length; i++) {
            words[i] = (byte) ('a' + r.nextInt(r.nextBoolean() ? 4 : 26));
          }
          out.write(words);
        }
      }
    }
    return dir;
  }

  private BakeResult bake(Path store, Path rootfs, Path tree) throws Exception {
    return bake(store, rootfs, tree, false);
  }

  private BakeResult bake(Path store, Path rootfs, Path tree, boolean early) throws Exception {
    try (Kiln kiln =
        Kiln.builder()
            .store(store)
            .compressionLevel(
                early ? DaemonKillNineBakeMain.EARLY_LEVEL : DaemonKillNineBakeMain.LEVEL)
            .watchFileSystem(false)
            .build()) {
      return kiln.bake(DaemonKillNineBakeMain.definition(rootfs, tree), "docker-daemon:" + image);
    }
  }

  /** How long a baker process takes from "ready" to its end, baking cold into {@code store}. */
  private long childBakeMillis(Path store, Path rootfs, Path tree) throws Exception {
    Process p =
        new ProcessBuilder(bakerCommand(store, rootfs, tree)).redirectErrorStream(true).start();
    long start = System.nanoTime();
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String l; (l = r.readLine()) != null; ) {
        if (l.equals("ready")) {
          start = System.nanoTime();
        }
      }
    }
    assertThat(p.waitFor(3, TimeUnit.MINUTES)).as("the reference baker ended").isTrue();
    assertThat(p.exitValue()).as("the reference baker's exit status").isZero();
    return (System.nanoTime() - start) / 1_000_000;
  }

  private List<String> bakerCommand(Path store, Path rootfs, Path tree, boolean early) {
    List<String> c = new ArrayList<>(bakerCommand(store, rootfs, tree));
    if (early) {
      c.add("early");
    }
    return c;
  }

  private List<String> bakerCommand(Path store, Path rootfs, Path tree) {
    return List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m",
        "-cp",
        System.getProperty("java.class.path"),
        DaemonKillNineBakeMain.class.getName(),
        store.toString(),
        rootfs.toString(),
        tree.toString(),
        image);
  }

  private List<String> bakeAndKill(Path store, Path rootfs, Path tree, long delayMillis, int round)
      throws Exception {
    Process p =
        new ProcessBuilder(bakerCommand(store, rootfs, tree, delayMillis == AT_RETURN))
            .redirectErrorStream(true)
            .start();
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                  lines.add(l);
                }
              } catch (IOException e) {
                // the process is gone
              }
            },
            "daemon-baker-" + round);
    reader.setDaemon(true);
    reader.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
      while (!lines.contains("ready") && p.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(lines).as("the baker started:\n" + lines).contains("ready");
      if (delayMillis == AT_RETURN) {
        while (lines.stream().noneMatch(l -> l.startsWith("returned early="))
            && p.isAlive()
            && System.nanoTime() < deadline) {
          Thread.sleep(1);
        }
      } else if (delayMillis == AT_ASSEMBLY) {
        while (!lines.contains("event ImageAssembled")
            && p.isAlive()
            && System.nanoTime() < deadline) {
          Thread.sleep(1);
        }
      } else {
        Thread.sleep(delayMillis);
      }
      p.destroyForcibly(); // SIGKILL: no shutdown hook runs, nothing is closed or finished
    } finally {
      p.destroyForcibly();
    }
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the baker died").isTrue();
    reader.join(10_000);
    if (lines.stream().noneMatch(l -> l.startsWith("image="))) {
      assertThat(p.exitValue())
          .as("exit status of a process killed by SIGKILL:\n" + String.join("\n", lines))
          .isEqualTo(128 + 9);
    }
    return List.copyOf(lines);
  }

  /** Where the bake was when it died, by the last events it printed. */
  private static String phase(List<String> lines) {
    if (lines.contains("event ImageAssembled")) {
      return "publishing";
    }
    if (lines.contains("event LayerStarted")) {
      return "provisioning";
    }
    return "starting";
  }

  /**
   * Every key entry names a blob that is there, of its size, and every blob of the store matches
   * its digest: no key without its blob, whatever moment the kill hit.
   */
  private static void checkWhatAKillLeaves(Path store, String where) throws Exception {
    if (!Files.isDirectory(store.resolve("keys"))) {
      return; // killed before the store was created
    }
    Path blobs = store.resolve("blobs/sha256");
    try (Stream<Path> s = Files.list(blobs)) {
      for (Path b : s.filter(Files::isRegularFile).toList()) {
        String name = b.getFileName().toString();
        assertThat(name).as(where + ": a file among the blobs").matches("[0-9a-f]{64}");
        assertThat(Digest.of(Files.readAllBytes(b)).hex())
            .as(where + ": blob " + name + " matches its digest")
            .isEqualTo(name);
      }
    }
    ObjectMapper json = new ObjectMapper();
    try (Stream<Path> s = Files.list(store.resolve("keys"))) {
      for (Path k : s.filter(p -> p.toString().endsWith(".json")).toList()) {
        JsonNode e = json.readTree(k.toFile());
        Path blob = blobs.resolve(Digest.parse(e.path("digest").asText()).hex());
        assertThat(blob).as(where + ": blob of key entry " + k.getFileName()).exists();
        assertThat(Files.size(blob))
            .as(where + ": size of the blob of " + k.getFileName())
            .isEqualTo(e.path("size").asLong());
      }
    }
  }

  /** Removes the layers' keys and blobs and the daemon's image, so the next round bakes cold. */
  private void makeCold(Path store, BakeResult ref, String docker) throws IOException {
    List<Path> gone = new ArrayList<>();
    for (LayerRecord l : ref.layers()) {
      gone.add(store.resolve("keys").resolve(l.key().hex() + ".json"));
      gone.add(store.resolve("blobs/sha256").resolve(l.digest().hex()));
    }
    for (Path p : gone) {
      Files.deleteIfExists(p);
    }
    Files.deleteIfExists(store.resolve("stat/index"));
    Tools.run(docker, "rmi", "-f", image).ok();
  }
}
