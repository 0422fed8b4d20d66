package dev.kiln.internal.tar;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.google.common.hash.Hashing;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Shared helpers for the tar package tests: processes, digests and comparable snapshots of entries.
 */
public final class TarTestSupport {
  private TarTestSupport() {}

  /** An entry with its content read out, comparable with equals. */
  public record Snap(
      String path,
      LayerEntry.Type type,
      int mode,
      int uid,
      int gid,
      long size,
      String link,
      int devMajor,
      int devMinor,
      Map<String, String> xattrs,
      String content) {

    static Snap of(LayerEntry e) throws IOException {
      String content = null;
      if (e.type() == LayerEntry.Type.FILE) {
        try (InputStream in = e.content().open()) {
          byte[] bytes = in.readAllBytes();
          content = bytes.length <= 4096 ? new String(bytes, UTF_8) : "sha256:" + sha256(bytes);
        }
      }
      Map<String, String> x = new TreeMap<>();
      e.xattrs().forEach((k, v) -> x.put(k, Arrays.toString(v)));
      return new Snap(
          e.path(),
          e.type(),
          e.mode(),
          e.uid(),
          e.gid(),
          e.size(),
          e.linkTarget(),
          e.devMajor(),
          e.devMinor(),
          x,
          content);
    }

    @Override
    public String toString() {
      return type
          + " "
          + path
          + " "
          + Integer.toOctalString(mode)
          + " "
          + uid
          + ":"
          + gid
          + " size="
          + size
          + (link.isEmpty() ? "" : " -> " + link)
          + (devMajor + devMinor > 0 ? " dev=" + devMajor + "," + devMinor : "")
          + (xattrs.isEmpty() ? "" : " " + xattrs)
          + (content == null ? "" : " '" + content + "'");
    }
  }

  public static List<Snap> readAll(Path layer) throws IOException {
    try (LayerReader r = LayerReader.open(layer)) {
      return readAll(r);
    }
  }

  public static List<Snap> readAll(LayerReader r) throws IOException {
    List<Snap> out = new ArrayList<>();
    LayerEntry e;
    while ((e = r.next()) != null) {
      out.add(Snap.of(e));
    }
    return out;
  }

  public static List<String> paths(List<Snap> snaps) {
    return snaps.stream().map(Snap::path).toList();
  }

  public static String sha256(byte[] bytes) {
    return Hashing.sha256().hashBytes(bytes).toString();
  }

  public static String sha256(Path file) throws IOException {
    return com.google.common.io.Files.asByteSource(file.toFile()).hash(Hashing.sha256()).toString();
  }

  public static byte[] gunzip(byte[] gz) throws IOException {
    try (GZIPInputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(gz))) {
      return in.readAllBytes();
    }
  }

  public static byte[] gunzip(Path gz) throws IOException {
    return gunzip(Files.readAllBytes(gz));
  }

  /** Deterministic bytes that compress somewhat, like binaries do. */
  public static byte[] data(long seed, int size) {
    Random r = new Random(seed);
    byte[] b = new byte[size];
    String[] words = {"kiln ", "layer ", "tar ", "gzip ", "\u0000\u0001\u0002", "deflate ", "oci "};
    int i = 0;
    while (i < size) {
      if (r.nextInt(4) == 0) {
        b[i++] = (byte) r.nextInt();
      } else {
        byte[] w = words[r.nextInt(words.length)].getBytes(UTF_8);
        for (int j = 0; j < w.length && i < size; j++) {
          b[i++] = w[j];
        }
      }
    }
    return b;
  }

  /** The result of a finished process. */
  public record Result(int exit, String out, String err) {}

  public static Result run(Path dir, String... command) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir == null ? null : dir.toFile());
    pb.environment().put("TZ", "UTC");
    pb.environment().put("LC_ALL", "C.UTF-8");
    Process p = pb.start();
    p.getOutputStream().close();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Thread errPump =
        new Thread(
            () -> {
              try {
                p.getErrorStream().transferTo(err);
              } catch (IOException ignored) {
                // process gone
              }
            });
    errPump.start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("timed out: " + String.join(" ", command));
    }
    errPump.join();
    return new Result(p.exitValue(), new String(out, UTF_8), err.toString(UTF_8));
  }

  public static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Compressor threads shared by the tests of one class, started before the first and stopped after
   * the last: {@code @RegisterExtension static final CompressorPool compressors = new
   * CompressorPool(2);}, then {@code compressors.executor()}.
   */
  public static final class CompressorPool implements BeforeAllCallback, AfterAllCallback {
    private final int threads;
    private ExecutorService executor;

    public CompressorPool(int threads) {
      this.threads = threads;
    }

    public ExecutorService executor() {
      return executor;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
      executor = pool(threads);
    }

    @Override
    public void afterAll(ExtensionContext context) {
      executor.shutdownNow();
    }
  }

  public static ExecutorService pool(int threads) {
    return Executors.newFixedThreadPool(
        threads,
        r -> {
          Thread t = new Thread(r, "test-compressor");
          t.setDaemon(true);
          return t;
        });
  }
}
