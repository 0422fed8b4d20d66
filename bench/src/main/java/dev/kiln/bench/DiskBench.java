package dev.kiln.bench;

import dev.kiln.disk.BlockDiff;
import dev.kiln.disk.DiskBuilder;
import dev.kiln.disk.DiskOptions;
import dev.kiln.disk.TestLayers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Side-by-side timing, by hand (not a test; {@code scripts/bench-disk.sh} runs it): Kiln's full
 * disk build of a rootfs vs the shell pipeline (scripts/disk/shell-pipeline.sh: fakeroot tar -x +
 * mke2fs -d + sfdisk + dd) on the same tarball, plus Kiln's rebuild after changing only the app
 * layer (extend of the cached base disk, a new 5 MiB app layer each round) and the 512 KiB blocks
 * that changes.
 *
 * <p>Fairness: both sides stage in the same directory ({@code STAGING_DIR}, default {@code
 * /dev/shm}; the shell through {@code TMPDIR}), write a new disk file into {@code WORKDIR} (the
 * previous one deleted and the page cache synced before each timed step, untimed), and run in the
 * same rounds, their order alternating from round to round so that both see the same machine load;
 * a warm-up round (both sides, not counted) comes first; the load average is printed with every
 * round. Every full build must give the same sha256.
 *
 * <p>Usage: {@code DiskBench ROOTFS.tar WORKDIR [ROUNDS [STAGING_DIR]]} (ROUNDS default 7).
 */
public final class DiskBench {
  public static void main(String[] args) throws Exception {
    Path rootfs = Path.of(args[0]);
    Path work = Files.createDirectories(Path.of(args[1]));
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 7;
    Path staging = Path.of(args.length > 3 ? args[3] : "/dev/shm");
    Path script =
        Path.of(System.getProperty("kiln.repo", ".."), "scripts", "disk", "shell-pipeline.sh")
            .toAbsolutePath()
            .normalize();
    DiskBuilder kiln =
        DiskBuilder.create(DiskOptions.defaults().size(2L << 30)).workDirectory(staging);
    List<Long> shell = new ArrayList<>();
    List<Long> full = new ArrayList<>();
    List<Long> rebuild = new ArrayList<>();
    List<Double> loads = new ArrayList<>();
    String firstSha = null;
    long changedBlocks = -1;
    double ratio = 0;
    System.out.printf(
        "rootfs %s (%d MB), staging in %s, disks in %s, %d rounds after a warm-up round%n",
        rootfs, Files.size(rootfs) / 1_000_000, staging, work, rounds);
    for (int r = -1; r < rounds; r++) {
      double load = load();
      byte[] payload = new byte[5 << 20];
      new Random(r).nextBytes(payload);
      Path app =
          TestLayers.layer()
              .dir("opt")
              .dir("opt/app")
              .file("opt/app/app.bin", 0644, 0, 0, payload)
              .file("opt/app/version", "round " + r)
              .write(work.resolve("app.tar.gz"));
      long s;
      long f;
      long x;
      if (r % 2 == 0) {
        s = shell(script, rootfs, work, staging);
        f = full(kiln, rootfs, work);
        x = rebuild(kiln, work, app);
      } else {
        f = full(kiln, rootfs, work);
        x = rebuild(kiln, work, app);
        s = shell(script, rootfs, work, staging);
      }
      String sha = Measure.sha256(work.resolve("kiln.img"));
      if (firstSha == null) {
        firstSha = sha;
      } else if (!firstSha.equals(sha)) {
        throw new IllegalStateException("full build not reproducible: " + firstSha + " vs " + sha);
      }
      BlockDiff d = BlockDiff.compare(work.resolve("kiln.img"), work.resolve("kiln-app.img"));
      changedBlocks = d.changedBlocks();
      ratio = d.changedBytes() / (double) payload.length;
      System.out.printf(
          "%s: load %.2f; shell %d ms, kiln full %d ms (%.2fx), kiln rebuild %d ms (full/rebuild %.1fx); %s;"
              + " changed/app layer %.2f%n",
          r < 0 ? "warm-up" : "round " + r,
          load,
          s,
          f,
          f / (double) s,
          x,
          f / (double) x,
          d,
          ratio);
      if (r >= 0) {
        shell.add(s);
        full.add(f);
        rebuild.add(x);
        loads.add(load);
      }
    }
    loads.add(load());
    long ms = median(shell);
    long mf = median(full);
    long mr = median(rebuild);
    System.out.printf(
        "median of %d: shell %d ms, kiln full %d ms (%.2fx the shell), kiln rebuild %d ms (full/rebuild %.1fx);"
            + " %d blocks changed (%.2fx the app layer); load average %.1f-%.1f (median %.1f); sha256 %s%n",
        rounds,
        ms,
        mf,
        mf / (double) ms,
        mr,
        mf / (double) mr,
        changedBlocks,
        ratio,
        Collections.min(loads),
        Collections.max(loads),
        medianD(loads),
        firstSha);
  }

  // Every timed step writes a new file (the previous output is deleted first, untimed), as in the
  // store: replacing
  // a big file by rename or truncation makes the file system flush or free it in the timed window.
  // And every timed
  // step starts without a backlog of dirty pages (sync, untimed), so that no side pays for the
  // previous one's
  // writeback.

  private static void settle(Path... delete) throws Exception {
    for (Path p : delete) {
      Files.deleteIfExists(p);
    }
    new ProcessBuilder("sync").inheritIO().start().waitFor();
  }

  private static long shell(Path script, Path rootfs, Path work, Path staging) throws Exception {
    settle(work.resolve("shell.img"));
    long t0 = System.nanoTime();
    ProcessBuilder pb =
        new ProcessBuilder(
                "bash",
                script.toString(),
                rootfs.toString(),
                work.resolve("shell.img").toString(),
                "2")
            .inheritIO();
    pb.environment().put("TMPDIR", staging.toString());
    pb.environment().put("KILN_BENCH_STEPS", "1");
    if (pb.start().waitFor() != 0) {
      throw new IllegalStateException("shell pipeline failed");
    }
    return (System.nanoTime() - t0) / 1_000_000;
  }

  private static long full(DiskBuilder kiln, Path rootfs, Path work) throws Exception {
    settle(work.resolve("kiln.img"));
    long t0 = System.nanoTime();
    kiln.build(List.of(rootfs), work.resolve("kiln.img"));
    return (System.nanoTime() - t0) / 1_000_000;
  }

  private static long rebuild(DiskBuilder kiln, Path work, Path app) throws Exception {
    settle(work.resolve("kiln-app.img"));
    long t0 = System.nanoTime();
    kiln.extend(work.resolve("kiln.img"), List.of(app), work.resolve("kiln-app.img"));
    return (System.nanoTime() - t0) / 1_000_000;
  }

  private static double load() throws java.io.IOException {
    return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
  }

  private static long median(List<Long> v) {
    List<Long> s = new ArrayList<>(v);
    Collections.sort(s);
    return s.size() % 2 == 1
        ? s.get(s.size() / 2)
        : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
  }

  private static double medianD(List<Double> v) {
    List<Double> s = new ArrayList<>(v);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }
}
