package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.internal.store.LocalStore;
import dev.kiln.testing.BakeMain;
import dev.kiln.testing.Jvm;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What takes more than one process: reproducibility across checkouts, kill -9 mid-write, concurrent
 * bakers.
 */
class MultiProcessIT {
  @TempDir Path tmp;

  /** A tree with a few directories (one layer each) of mixed, partly incompressible content. */
  static Path makeTree(Path root, long seed, int megabytes) throws IOException {
    Random r = new Random(seed);
    String[] dirs = {"1-base", "2-lib", "3-app"};
    for (String d : dirs) {
      Path dir = Files.createDirectories(root.resolve(d).resolve("sub"));
      for (int i = 0; i < 20; i++) {
        Files.writeString(
            dir.resolve("text-" + i + ".txt"), ("line " + i + " of " + d + "\n").repeat(200));
      }
      Files.createSymbolicLink(root.resolve(d).resolve("link"), Path.of("sub/text-1.txt"));
    }
    byte[] chunk = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(root.resolve("2-lib/big.bin"))) {
      for (int i = 0; i < megabytes; i++) {
        r.nextBytes(chunk);
        out.write(chunk);
      }
    }
    return root;
  }

  static void setAllMtimes(Path root, long millis) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.toList()) {
        if (!Files.isSymbolicLink(p)) {
          Files.setLastModifiedTime(p, FileTime.fromMillis(millis));
        }
      }
    }
  }

  private static String run(Process p, Path log) throws Exception {
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("baker finished").isTrue();
    String out = Files.readString(log);
    assertThat(p.exitValue()).as("baker output:\n" + out).isZero();
    return out;
  }

  @Test
  void twoCheckoutsWithDifferentMtimesInTwoProcessesGiveTheSameDigests() throws Exception {
    Path a = makeTree(tmp.resolve("checkout-a"), 42, 4);
    Path b = makeTree(tmp.resolve("checkout-b"), 42, 4);
    setAllMtimes(a, 1_500_000_000_000L);
    setAllMtimes(b, 1_700_000_000_000L);
    Path logA = tmp.resolve("a.log");
    Path logB = tmp.resolve("b.log");
    Process pa =
        Jvm.start(
            BakeMain.class,
            logA,
            tmp.resolve("store-a").toString(),
            a.toString(),
            "oci-archive:" + tmp.resolve("a.tar"));
    Process pb =
        Jvm.start(
            BakeMain.class,
            logB,
            tmp.resolve("store-b").toString(),
            b.toString(),
            "oci-archive:" + tmp.resolve("b.tar"));
    String outA = run(pa, logA);
    String outB = run(pb, logB);
    List<String> linesA =
        outA.lines().filter(l -> l.startsWith("layer ") || l.startsWith("image=")).toList();
    List<String> linesB =
        outB.lines().filter(l -> l.startsWith("layer ") || l.startsWith("image=")).toList();
    assertThat(linesA).hasSize(4).isEqualTo(linesB);
    assertThat(Files.readAllBytes(tmp.resolve("a.tar")))
        .isEqualTo(Files.readAllBytes(tmp.resolve("b.tar")));
  }

  @Test
  void killedBakersLeaveAStoreTheNextBakeUses() throws Exception {
    Path tree = makeTree(tmp.resolve("tree"), 7, 48);
    Path store = tmp.resolve("store");
    Random r = new Random(1);
    int midWrite = 0;
    for (int i = 0; i < 5; i++) {
      Path log = tmp.resolve("killed-" + i + ".log");
      Process p =
          Jvm.start(
              BakeMain.class,
              log,
              store.toString(),
              tree.toString(),
              "oci-archive:" + tmp.resolve("out.tar"));
      // wait until the baker is writing (a temp file of its own exists), then kill it a moment
      // later
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (p.isAlive() && filesUnder(store.resolve("tmp")) == 0 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      Thread.sleep(r.nextInt(300));
      boolean wasAlive = p.isAlive();
      p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      if (wasAlive && filesUnder(store.resolve("tmp")) > 0) {
        midWrite++;
      }
      // change the top layer between attempts so later kills also land in a write
      Files.writeString(tree.resolve("3-app/sub/attempt.txt"), "attempt " + i);
    }
    assertThat(midWrite).as("kills that landed while the baker was writing").isPositive();
    Path log = tmp.resolve("final.log");
    String out =
        run(
            Jvm.start(
                BakeMain.class,
                log,
                store.toString(),
                tree.toString(),
                "oci-archive:" + tmp.resolve("out.tar")),
            log);
    assertThat(out).contains("image=sha256:");
    assertVerified(store);
    assertThat(filesUnder(store.resolve("tmp"))).as("stale temp files swept").isZero();
    // and the store answers the same definition in-process, with nothing to do
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      BakeResult again = kiln.bake(BakeMain.definition(tree));
      assertThat(again.provisioned()).isEmpty();
      assertThat(out).contains("image=" + again.digest());
    }
  }

  @Test
  void twoProcessesBakingOverlappingGraphsBothSucceedAndShareBlobs() throws Exception {
    Path one = makeTree(tmp.resolve("one"), 3, 16);
    Path two = tmp.resolve("two");
    // same base and lib directories (same keys), a different app directory
    copyTree(one, two);
    Files.writeString(two.resolve("3-app/sub/other.txt"), "only in two");
    Path store = tmp.resolve("store");
    Path l1 = tmp.resolve("1.log");
    Path l2 = tmp.resolve("2.log");
    Process p1 = Jvm.start(BakeMain.class, l1, store.toString(), one.toString());
    Process p2 = Jvm.start(BakeMain.class, l2, store.toString(), two.toString());
    String o1 = run(p1, l1);
    String o2 = run(p2, l2);
    String lib1 = o1.lines().filter(l -> l.startsWith("layer 2-lib ")).findFirst().orElseThrow();
    String lib2 = o2.lines().filter(l -> l.startsWith("layer 2-lib ")).findFirst().orElseThrow();
    assertThat(lib1).isEqualTo(lib2);
    assertVerified(store);
    try (Stream<Path> s = Files.list(store.resolve("blobs/sha256"))) {
      // 3 layers each, 2 shared + 1 own app layer each (base/lib identical), plus 2 configs and 2
      // manifests
      assertThat(s.count()).isEqualTo(4 + 4);
    }
  }

  private static void assertVerified(Path storeDir) throws Exception {
    try (LocalStore store = LocalStore.open(storeDir);
        Stream<Path> s = Files.list(storeDir.resolve("blobs/sha256"))) {
      for (Path blob : s.toList()) {
        assertThat(store.verify(new Digest(blob.getFileName().toString())))
            .as("blob " + blob + " verifies")
            .isTrue();
      }
    }
    try (Stream<Path> s = Files.list(storeDir.resolve("keys"))) {
      for (Path k : s.toList()) {
        String digest =
            new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(k.toFile())
                .path("digest")
                .asText();
        assertThat(storeDir.resolve("blobs/sha256").resolve(Digest.parse(digest).hex()))
            .as("blob of key " + k)
            .exists();
      }
    }
  }

  /**
   * Regular files (other than lock files) under dir; tolerant of files that a live process removes
   * meanwhile.
   */
  private static long filesUnder(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    long[] n = {0};
    Files.walkFileTree(
        dir,
        new java.nio.file.SimpleFileVisitor<>() {
          @Override
          public java.nio.file.FileVisitResult visitFile(
              Path f, java.nio.file.attribute.BasicFileAttributes a) {
            if (a.isRegularFile() && !f.getFileName().toString().endsWith(".lock")) {
              n[0]++;
            }
            return java.nio.file.FileVisitResult.CONTINUE;
          }

          @Override
          public java.nio.file.FileVisitResult visitFileFailed(Path f, IOException e) {
            return java.nio.file.FileVisitResult.CONTINUE;
          }
        });
    return n[0];
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path dest = to.resolve(from.relativize(p).toString());
        if (Files.isSymbolicLink(p)) {
          Files.createSymbolicLink(dest, Files.readSymbolicLink(p));
        } else if (Files.isDirectory(p)) {
          Files.createDirectories(dest);
        } else {
          Files.copy(p, dest);
        }
      }
    }
  }
}
