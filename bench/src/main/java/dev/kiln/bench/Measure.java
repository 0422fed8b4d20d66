package dev.kiln.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * What every benchmark here needs: elapsed milliseconds, medians, and a clean slate between runs.
 */
final class Measure {
  private Measure() {}

  /** Milliseconds since {@code t0} (a {@link System#nanoTime()}). */
  static long ms(long t0) {
    return (System.nanoTime() - t0) / 1_000_000;
  }

  /** The median (the upper one of an even count). */
  static long median(List<Long> xs) {
    List<Long> s = new ArrayList<>(xs);
    s.sort(null);
    return s.get(s.size() / 2);
  }

  /** The SHA-256 of a file, in lowercase hex. */
  static String sha256(Path file) throws IOException {
    return com.google.common.io.MoreFiles.asByteSource(file)
        .hash(com.google.common.hash.Hashing.sha256())
        .toString();
  }

  /** Deletes a directory tree, if it exists. */
  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
