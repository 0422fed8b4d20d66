package dev.kiln.internal.tar;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * A throughput check run by hand, not an asserted time: writes a real tree as a layer and times {@code tar | gzip -6}
 * on it for comparison. {@code mvn -o -pl core test -Dtest=ThroughputCheckTest -Dkiln.bench=/some/dir}
 */
@EnabledIfSystemProperty(named = "kiln.bench", matches = ".+")
class ThroughputCheckTest {
  @TempDir Path tmp;

  @Test
  void writesATreeAndComparesWithTarPipeGzip() throws Exception {
    String property = System.getProperty("kiln.bench");
    Path root = Path.of(property.equals("true") ? "/usr/lib/jvm/java-17-openjdk-amd64" : property);
    int threads = Runtime.getRuntime().availableProcessors();
    ExecutorService pool = TarTestSupport.pool(threads);
    try {
      for (int run = 1; run <= 3; run++) {
        long start = System.nanoTime();
        LayerBlob blob;
        int files;
        try (CanonicalLayerWriter w = new CanonicalLayerWriter(tmp, 1, 6, pool)) {
          files = addTree(w, root);
          blob = w.finish();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(
            "kiln run %d: %d files, %.1f MB tar -> %.1f MB gz in %.2f s (%.0f MB/s), %d threads, %s%n",
            run, files, blob.uncompressedSize() / 1e6, blob.size() / 1e6, seconds,
            blob.uncompressedSize() / 1e6 / seconds, threads, blob.digest().shortHex());
        Files.delete(blob.file());
      }
      long start = System.nanoTime();
      TarTestSupport.Result r =
          TarTestSupport.run(null, "bash", "-c", "tar -C '" + root + "' -cf - . | gzip -6 | sha256sum");
      assertThat(r.exit()).isZero();
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
      PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
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
