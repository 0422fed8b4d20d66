package dev.kiln.disk;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Side-by-side timing, by hand (not a test): Kiln's full disk build of a rootfs vs the shell pipeline
 * (scripts/disk/shell-pipeline.sh: fakeroot tar -x + mke2fs -d + sfdisk + dd) on the same tarball, interleaved so
 * both see the same machine load, plus Kiln's rebuild after changing only the app layer (extend of the cached
 * base disk) and the blocks that changes. Usage: {@code DiskBench ROOTFS.tar WORKDIR [ROUNDS [STAGING_DIR]]}.
 */
public final class DiskBench {
  public static void main(String[] args) throws Exception {
    Path rootfs = Path.of(args[0]);
    Path work = Files.createDirectories(Path.of(args[1]));
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    Path staging = args.length > 3 ? Path.of(args[3]) : null; // e.g. /dev/shm, for both sides
    Path script = Path.of("..", "scripts", "disk", "shell-pipeline.sh").toAbsolutePath().normalize();
    DiskBuilder kiln = DiskBuilder.create(DiskOptions.defaults().withSize(2L << 30));
    if (staging != null) {
      kiln = kiln.withWorkDirectory(staging);
    }
    List<Long> shell = new ArrayList<>();
    List<Long> full = new ArrayList<>();
    List<Long> rebuild = new ArrayList<>();
    String firstSha = null;
    for (int r = 0; r < rounds; r++) {
      long t0 = System.nanoTime();
      ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), rootfs.toString(),
          work.resolve("shell.img").toString(), "2").inheritIO();
      if (staging != null) {
        pb.environment().put("TMPDIR", staging.toString());
      }
      Process p = pb.start();
      if (p.waitFor() != 0) {
        throw new IllegalStateException("shell pipeline failed");
      }
      long t1 = System.nanoTime();
      DiskImage base = kiln.build(List.of(rootfs), work.resolve("kiln.img"));
      long t2 = System.nanoTime();
      byte[] payload = new byte[5 << 20];
      new Random(r).nextBytes(payload);
      Path app = TestLayers.layer().dir("opt").dir("opt/app").file("opt/app/app.bin", 0644, 0, 0, payload)
          .file("opt/app/version", "round " + r).write(work.resolve("app" + r + ".tar.gz"));
      long t3 = System.nanoTime();
      kiln.extend(base.path(), List.of(app), work.resolve("kiln-app.img"));
      long t4 = System.nanoTime();
      shell.add((t1 - t0) / 1_000_000);
      full.add((t2 - t1) / 1_000_000);
      rebuild.add((t4 - t3) / 1_000_000);
      String sha = Tools.sha256(base.path());
      if (firstSha == null) {
        firstSha = sha;
      } else if (!firstSha.equals(sha)) {
        throw new IllegalStateException("full build not reproducible: " + firstSha + " vs " + sha);
      }
      BlockDiff d = BlockDiff.compare(base.path(), work.resolve("kiln-app.img"));
      System.out.printf(
          "round %d: shell %d ms, kiln full %d ms, kiln rebuild (extend, 5 MiB app) %d ms; %s; ratio %.2f%n",
          r, shell.get(r), full.get(r), rebuild.get(r), d, d.changedBytes() / (double) payload.length);
    }
    System.out.printf(
        "median: shell %d ms, kiln full %d ms (%.2fx), kiln rebuild %d ms (full/rebuild %.1fx); sha256 %s%n",
        median(shell), median(full), median(full) / (double) median(shell), median(rebuild),
        median(full) / (double) median(rebuild), firstSha);
  }

  private static long median(List<Long> v) {
    List<Long> s = new ArrayList<>(v);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }
}
