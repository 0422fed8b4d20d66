package dev.kiln.bench;

import dev.kiln.disk.DiskBuilder;
import dev.kiln.disk.DiskOptions;
import dev.kiln.vmware.VmdkWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Kiln's streamOptimized VMDK writer ({@link VmdkWriter#defaults()}: zlib level 6 on every core)
 * against {@code qemu-img convert -f raw -O vmdk -o subformat=streamOptimized} on the same raw
 * disk, side by side. Not a test: {@code scripts/bench-vmdk.sh} runs it on Kiln's raw disk of the
 * Debian fixture, built once before the rounds.
 *
 * <p>Fairness: both read the same raw file (in the page cache after the warm-up round) and write a
 * new file in {@code WORKDIR}, flushed to the disk ({@code sync FILE}) inside the timed step;
 * before every timed conversion the previous output is deleted and {@code sync} runs, untimed; the
 * order alternates from round to round; medians of {@code ROUNDS} after one warm-up round of both.
 * Afterwards both outputs must pass {@code qemu-img check} and {@code qemu-img compare} with the
 * raw disk.
 *
 * <p>Usage: {@code VmdkBench DISK WORKDIR [ROUNDS]} (ROUNDS default 5): DISK is a raw disk, or a
 * root file system tarball ({@code .tar}, {@code .tar.gz}) that Kiln first builds a disk of ({@code
 * DiskOptions.defaults()}, untimed).
 */
public final class VmdkBench {
  private VmdkBench() {}

  public static void main(String[] args) throws Exception {
    Path work = Files.createDirectories(Path.of(args[1]));
    Path raw = Path.of(args[0]);
    if (raw.getFileName().toString().matches(".*\\.(tar|tar\\.gz|tgz)")) {
      Path rootfs = raw;
      raw = work.resolve("disk.raw");
      long t0 = System.nanoTime();
      DiskBuilder.create(DiskOptions.defaults()).build(List.of(rootfs), raw);
      System.out.printf(
          "built the raw disk of %s in %d ms (not part of the benchmark)%n",
          rootfs, Measure.ms(t0));
    }
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
    Path kilnOut = work.resolve("kiln.vmdk");
    Path qemuOut = work.resolve("qemu.vmdk");
    VmdkWriter writer = VmdkWriter.defaults();
    System.out.printf(
        "raw disk %s: %d MiB, %d MiB allocated; %s; qemu-img: %s; %d rounds after a warm-up round%n",
        raw,
        Files.size(raw) >> 20,
        allocatedMiB(raw),
        writer,
        run("qemu-img", "--version").lines().findFirst().orElse(""),
        rounds);
    List<Long> kiln = new ArrayList<>();
    List<Long> qemu = new ArrayList<>();
    List<Double> loads = new ArrayList<>();
    for (int r = -1; r < rounds; r++) {
      double load = load();
      long k;
      long q;
      if (r % 2 == 0) {
        q = qemu(raw, qemuOut);
        k = kiln(writer, raw, kilnOut);
      } else {
        k = kiln(writer, raw, kilnOut);
        q = qemu(raw, qemuOut);
      }
      System.out.printf(
          "%s: load %.2f; kiln %d ms (%d bytes), qemu-img %d ms (%d bytes), kiln/qemu-img %.2fx%n",
          r < 0 ? "warm-up" : "round " + r,
          load,
          k,
          Files.size(kilnOut),
          q,
          Files.size(qemuOut),
          k / (double) q);
      if (r >= 0) {
        kiln.add(k);
        qemu.add(q);
        loads.add(load);
      }
    }
    loads.add(load());
    for (Path out : List.of(kilnOut, qemuOut)) {
      String check = run("qemu-img", "check", out.toString());
      String compare =
          run("qemu-img", "compare", "-f", "raw", "-F", "vmdk", raw.toString(), out.toString());
      System.out.printf(
          "%s: %s; %s%n", out.getFileName(), check.strip().replace('\n', ' '), compare.strip());
    }
    long mk = Measure.median(kiln);
    long mq = Measure.median(qemu);
    System.out.printf(
        "median of %d: kiln %d ms, qemu-img %d ms, kiln/qemu-img %.2fx; output kiln %d bytes, qemu-img %d bytes"
            + " (%.3f%%); load average %.1f-%.1f%n",
        rounds,
        mk,
        mq,
        mk / (double) mq,
        Files.size(kilnOut),
        Files.size(qemuOut),
        100.0 * (Files.size(kilnOut) - Files.size(qemuOut)) / Files.size(qemuOut),
        loads.stream().mapToDouble(Double::doubleValue).min().orElse(0),
        loads.stream().mapToDouble(Double::doubleValue).max().orElse(0));
  }

  private static void settle(Path out) throws Exception {
    Files.deleteIfExists(out);
    new ProcessBuilder("sync").inheritIO().start().waitFor();
  }

  private static long kiln(VmdkWriter writer, Path raw, Path out) throws Exception {
    settle(out);
    long t0 = System.nanoTime();
    writer.write(raw, out);
    flush(out);
    return Measure.ms(t0);
  }

  private static long qemu(Path raw, Path out) throws Exception {
    settle(out);
    long t0 = System.nanoTime();
    run(
        "qemu-img",
        "convert",
        "-f",
        "raw",
        "-O",
        "vmdk",
        "-o",
        "subformat=streamOptimized",
        raw.toString(),
        out.toString());
    flush(out);
    return Measure.ms(t0);
  }

  /**
   * Both sides pay for their output reaching the disk (the writer fsyncs already; this costs it
   * nothing more).
   */
  private static void flush(Path out) throws Exception {
    run("sync", out.toString());
  }

  /** Runs a command; its output, or an exception with it when the command fails. */
  private static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IllegalStateException(
          String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + out);
    }
    return out;
  }

  private static long allocatedMiB(Path file) throws Exception {
    return Long.parseLong(run("du", "-k", "--", file.toString()).split("\\s+")[0]) >> 10;
  }

  private static double load() throws java.io.IOException {
    return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
  }
}
