package dev.kiln.bench;

import dev.kiln.internal.deflate.DeflateEngine;
import dev.kiln.internal.deflate.DeflateEngines;
import dev.kiln.internal.tar.ParallelGzipOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * The two deflate engines Kiln's gzip can use, the JDK's {@link java.util.zip.Deflater} (native
 * zlib) and Kiln's Java port of zlib's deflate, over the files of a tree at one level: one thread
 * deflating 1 MiB chunks primed with the 32 KiB before them (as the gzip stream does), and the
 * parallel gzip stream on every core; the engines alternate run by run and the medians are
 * reported, with the SHA-256 of each output (the engines must agree). Also the cost of the start-up
 * check of the platform's deflater. Not a test: {@code scripts/bench-deflate.sh [TREE [RUNS
 * [LEVEL]]]} runs it (default tree: the JDK).
 *
 * <p>Usage: {@code DeflateBench TREE [RUNS [LEVEL]]}.
 */
public final class DeflateBench {
  private static final int CHUNK = ParallelGzipOutputStream.CHUNK_SIZE;
  private static final int DICT = 32 * 1024;

  private DeflateBench() {}

  public static void main(String[] args) throws Exception {
    Path root = Path.of(args[0]);
    int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    int level = args.length > 2 ? Integer.parseInt(args[2]) : 6;
    List<Path> files;
    try (Stream<Path> s = Files.walk(root)) {
      files = s.filter(Files::isRegularFile).sorted().toList();
    }
    long total = 0;
    for (Path f : files) {
      total += Files.size(f);
    }
    int threads = Runtime.getRuntime().availableProcessors();
    System.out.printf(
        "%d files, %.1f MB, level %d, %d threads, %d runs%n",
        files.size(), total / 1e6, level, threads, runs);

    List<Long> checks = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      long t0 = System.nanoTime();
      DeflateEngines.choose("auto", DeflateEngines.JDK);
      checks.add((System.nanoTime() - t0) / 1000);
    }
    System.out.printf(
        "start-up check of the JDK's deflater (10 levels): first %d us, median %d us%n",
        checks.get(0), Measure.median(checks.subList(1, checks.size())));

    DeflateEngine.Factory[] engines = {DeflateEngines.JDK, DeflateEngines.JAVA};
    List<List<Long>> single = List.of(new ArrayList<>(), new ArrayList<>());
    List<List<Long>> parallel = List.of(new ArrayList<>(), new ArrayList<>());
    String[] singleSha = new String[2];
    String[] parallelSha = new String[2];
    ExecutorService pool =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "kiln-bench-deflate");
              t.setDaemon(true);
              return t;
            });
    try {
      for (int run = 1; run <= runs; run++) {
        for (int e = 0; e < engines.length; e++) {
          int i = run % 2 == 0 ? engines.length - 1 - e : e; // alternate which engine goes first
          long t0 = System.nanoTime();
          singleSha[i] = singleThread(engines[i], level, files);
          single.get(i).add(Measure.ms(t0));
          t0 = System.nanoTime();
          parallelSha[i] = parallelStream(engines[i], level, files, pool, threads);
          parallel.get(i).add(Measure.ms(t0));
          System.out.printf(
              "run %d %-4s single thread %6d ms, parallel stream %6d ms%n",
              run, engines[i].name(), single.get(i).get(run - 1), parallel.get(i).get(run - 1));
        }
      }
    } finally {
      pool.shutdownNow();
    }
    System.out.println();
    System.out.println(
        "| engine | one thread, 1 MiB primed chunks | gzip stream on "
            + threads
            + " threads | output SHA-256 |");
    System.out.println("| --- | --- | --- | --- |");
    for (int i = 0; i < engines.length; i++) {
      long s = Measure.median(single.get(i));
      long p = Measure.median(parallel.get(i));
      System.out.printf(
          "| %s | %.1f MB/s (%d ms) | %.1f MB/s (%d ms) | %s… / %s… |%n",
          engines[i].name(),
          total / 1e3 / s,
          s,
          total / 1e3 / p,
          p,
          singleSha[i].substring(0, 12),
          parallelSha[i].substring(0, 12));
    }
    if (!singleSha[0].equals(singleSha[1]) || !parallelSha[0].equals(parallelSha[1])) {
      System.out.println("THE ENGINES' OUTPUTS DIFFER");
      System.exit(1);
    }
  }

  /**
   * Deflates the files' concatenation in primed 1 MiB chunks on this thread; the SHA-256 of all
   * output.
   */
  private static String singleThread(DeflateEngine.Factory factory, int level, List<Path> files)
      throws IOException {
    java.security.MessageDigest sha = sha256();
    DeflateEngine d = factory.create(level);
    byte[] in = new byte[CHUNK];
    byte[] dict = new byte[DICT];
    byte[] out = new byte[CHUNK + (CHUNK >> 6) + 64];
    int dictLen = 0;
    int inLen = 0;
    try {
      for (Path f : files) {
        byte[] data = Files.readAllBytes(f);
        for (int off = 0; off < data.length; ) {
          int n = Math.min(data.length - off, CHUNK - inLen);
          System.arraycopy(data, off, in, inLen, n);
          inLen += n;
          off += n;
          if (inLen == CHUNK) {
            dictLen = chunk(d, dict, dictLen, in, inLen, out, sha);
            inLen = 0;
          }
        }
      }
      chunk(d, dict, dictLen, in, inLen, out, sha);
    } finally {
      d.end();
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  private static int chunk(
      DeflateEngine d,
      byte[] dict,
      int dictLen,
      byte[] in,
      int inLen,
      byte[] out,
      java.security.MessageDigest sha) {
    if (dictLen > 0) {
      d.setDictionary(dict, 0, dictLen);
    }
    d.setInput(in, 0, inLen);
    int n;
    do {
      n = d.deflate(out, 0, out.length, DeflateEngine.SYNC_FLUSH);
      sha.update(out, 0, n);
    } while (n == out.length);
    d.reset();
    int keep = Math.min(DICT, inLen);
    System.arraycopy(in, inLen - keep, dict, 0, keep);
    return keep;
  }

  private static String parallelStream(
      DeflateEngine.Factory factory, int level, List<Path> files, ExecutorService pool, int threads)
      throws IOException {
    try (ParallelGzipOutputStream gz =
        new ParallelGzipOutputStream(
            OutputStream.nullOutputStream(), pool, level, threads, CHUNK, factory)) {
      for (Path f : files) {
        gz.write(Files.readAllBytes(f));
      }
      gz.finish();
      return gz.digest().hex();
    }
  }

  private static java.security.MessageDigest sha256() {
    try {
      return java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
