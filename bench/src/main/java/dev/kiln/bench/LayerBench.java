package dev.kiln.bench;

import dev.kiln.internal.tar.CanonicalLayerWriter;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * Layer writing throughput: Kiln's canonical layer writer (tar + parallel gzip at level 6, on every
 * core) over a real tree, three times, against {@code tar -cf - . | gzip -6 | sha256sum} of the
 * same tree. Not a test: {@code scripts/bench-layer.sh [TREE]} runs it (default tree: the JDK).
 *
 * <p>Usage: {@code LayerBench TREE WORKDIR [RUNS]}.
 */
public final class LayerBench {
  private LayerBench() {}

  public static void main(String[] args) throws Exception {
    Path root = Path.of(args[0]);
    Path work = Files.createDirectories(Path.of(args[1]));
    int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    int threads = Runtime.getRuntime().availableProcessors();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "kiln-bench-gzip");
              t.setDaemon(true);
              return t;
            });
    try {
      for (int run = 1; run <= runs; run++) {
        long start = System.nanoTime();
        LayerBlob blob;
        int files;
        try (CanonicalLayerWriter w = new CanonicalLayerWriter(work, 1, 6, pool)) {
          files = addTree(w, root);
          blob = w.finish();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(
            "kiln run %d: %d files, %.1f MB tar -> %.1f MB gz in %.2f s (%.0f MB/s), %d threads, %s%n",
            run,
            files,
            blob.uncompressedSize() / 1e6,
            blob.size() / 1e6,
            seconds,
            blob.uncompressedSize() / 1e6 / seconds,
            threads,
            blob.digest().shortHex());
        Files.delete(blob.file());
      }
      long start = System.nanoTime();
      Process p =
          new ProcessBuilder("bash", "-c", "tar -C '" + root + "' -cf - . | gzip -6 | sha256sum")
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes()).strip();
      if (p.waitFor() != 0) {
        throw new IllegalStateException("tar | gzip failed: " + out);
      }
      System.out.printf("tar | gzip -6 | sha256sum: %.2f s%n", (System.nanoTime() - start) / 1e9);
    } finally {
      pool.shutdownNow();
    }
  }

  private static int addTree(CanonicalLayerWriter w, Path root) throws IOException {
    List<Path> paths;
    try (Stream<Path> s = Files.walk(root)) {
      paths = s.filter(p -> !p.equals(root)).toList();
    }
    int files = 0;
    for (Path p : paths) {
      String name = root.relativize(p).toString();
      PosixFileAttributes a =
          Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      int mode = mode(a);
      if (a.isSymbolicLink()) {
        w.add(LayerEntry.symlink(name, Files.readSymbolicLink(p).toString()));
      } else if (a.isDirectory()) {
        w.add(LayerEntry.directory(name, mode));
      } else if (a.isRegularFile()) {
        w.add(LayerEntry.file(name, mode, a.size(), LayerEntry.Content.of(p)));
        files++;
      }
    }
    return files;
  }

  private static int mode(PosixFileAttributes a) {
    int mode = 0;
    for (PosixFilePermission p : a.permissions()) {
      mode |= 1 << (8 - p.ordinal());
    }
    return mode;
  }
}
