package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.Kiln;
import dev.kiln.testing.Jvm;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store's garbage collection running again and again ({@code maxBytes} of 1 MiB, no grace
 * period) while two other processes bake changing images into the same store, ten rounds, each with
 * a {@code kill -9} of a random participant at a random moment. No bake that was not killed fails;
 * after each round, before anything repairs the store, every blob matches its digest and no key
 * entry, image record or {@code index.json} entry names a missing blob; then a bake in this JVM
 * gives the reference image and {@code skopeo} copies every image the index lists.
 */
class GcWhileBakingIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ROUNDS = 10;
  private static final int BAKES = 4;

  @TempDir Path tmp;

  @Test
  void collectingWhileTwoProcessesBakeWithKillNineNeverFailsABakeNorLeavesADanglingReference()
      throws Exception {
    Tools.require("skopeo", "skopeo");
    Path store = tmp.resolve("store");
    Digest reference;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("reference")).gc(GcPolicy.none()).build()) {
      reference = kiln.bake(GcBakerMain.version(tmp.resolve("work-ref"), 0)).digest();
    }
    Random r = new Random(20261205);
    int bakesDone = 0;
    int collections = 0;
    int removing = 0;
    for (int round = 0; round < ROUNDS; round++) {
      Path stop = tmp.resolve("stop-" + round);
      List<Process> ps = new ArrayList<>();
      List<Path> logs = new ArrayList<>();
      for (int b = 0; b < 2; b++) {
        Path log = tmp.resolve("baker-" + round + "-" + b + ".log");
        logs.add(log);
        ps.add(
            Jvm.start(
                GcBakerMain.class,
                log,
                store.toString(),
                tmp.resolve("work-" + b).toString(),
                Long.toString(round * 2L + b),
                Integer.toString(BAKES)));
      }
      Path gcLog = tmp.resolve("gc-" + round + ".log");
      logs.add(gcLog);
      ps.add(Jvm.start(GcMain.class, gcLog, store.toString(), stop.toString()));

      int victim = r.nextInt(3);
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500 + r.nextInt(2000));
      while (System.nanoTime() < deadline && ps.get(victim).isAlive()) {
        Thread.sleep(10);
      }
      ps.get(victim).destroyForcibly().waitFor();

      for (int b = 0; b < 2; b++) {
        Process p = ps.get(b);
        assertThat(p.waitFor(120, TimeUnit.SECONDS))
            .as("baker %s of round %s ended", b, round)
            .isTrue();
        if (b != victim) {
          assertThat(p.exitValue())
              .as(
                  "baker %s of round %s (victim %s):%n%s",
                  b, round, victim, Files.readString(logs.get(b)))
              .isZero();
        }
        bakesDone +=
            (int) Files.readString(logs.get(b)).lines().filter(l -> l.startsWith("baked ")).count();
      }
      Files.createFile(stop);
      Process gc = ps.get(2);
      assertThat(gc.waitFor(60, TimeUnit.SECONDS))
          .as("collector of round %s ended", round)
          .isTrue();
      if (victim != 2) {
        assertThat(gc.exitValue())
            .as("collector of round %s:%n%s", round, Files.readString(gcLog))
            .isZero();
      }
      List<String> runs =
          Files.readString(gcLog).lines().filter(l -> l.startsWith("store ")).toList();
      collections += runs.size();
      removing += (int) runs.stream().filter(l -> !l.contains(": removed 0 (")).count();

      assertNoDanglingReference(store, round);
      Digest again;
      try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
        again = kiln.bake(GcBakerMain.version(tmp.resolve("work-0"), 0)).digest();
      }
      assertThat(again).isEqualTo(reference);
      StoreLayoutCheck.assertGood(
          store, reference, Files.createDirectories(tmp.resolve("copies-" + round)));
    }
    assertThat(bakesDone).as("bakes completed").isGreaterThan(ROUNDS * BAKES);
    assertThat(collections).as("collections run").isGreaterThan(ROUNDS);
    assertThat(removing).as("collections that removed something").isGreaterThan(ROUNDS);
  }

  /**
   * Every blob matches its digest; key entries, records and index entries name blobs that are
   * there.
   */
  private static void assertNoDanglingReference(Path store, int round) throws IOException {
    try (Stream<Path> s = Files.list(store.resolve("blobs/sha256"))) {
      for (Path b : s.toList()) {
        assertThat(Digest.of(Files.readAllBytes(b)).hex())
            .as("round %s: blob %s", round, b.getFileName())
            .isEqualTo(b.getFileName().toString());
      }
    }
    try (Stream<Path> s = Files.list(store.resolve("keys"))) {
      for (Path k : s.toList()) {
        JsonNode e = JSON.readTree(k.toFile());
        Path blob = store.resolve("blobs/sha256/" + Digest.parse(e.path("digest").asText()).hex());
        assertThat(blob).as("round %s: blob of key %s", round, k.getFileName()).exists();
        assertThat(Files.size(blob)).isEqualTo(e.path("size").asLong());
      }
    }
    List<String> images = new ArrayList<>();
    for (JsonNode m : JSON.readTree(store.resolve("index.json").toFile()).path("manifests")) {
      images.add(Digest.parse(m.path("digest").asText()).hex());
    }
    try (Stream<Path> s = Files.list(store.resolve("records"))) {
      s.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".json"))
          .forEach(n -> images.add(n.replace(".json", "")));
    }
    for (String hex : images) {
      Path manifest = store.resolve("blobs/sha256/" + hex);
      assertThat(manifest).as("round %s: manifest of image %s", round, hex).exists();
      JsonNode m = JSON.readTree(manifest.toFile());
      List<JsonNode> refs = new ArrayList<>();
      refs.add(m.path("config"));
      m.path("layers").forEach(refs::add);
      for (JsonNode ref : refs) {
        Path blob =
            store.resolve("blobs/sha256/" + Digest.parse(ref.path("digest").asText()).hex());
        assertThat(blob).as("round %s: blob %s of image %s", round, ref, hex).exists();
        assertThat(Files.size(blob)).isEqualTo(ref.path("size").asLong());
      }
    }
  }
}
