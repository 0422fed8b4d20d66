package dev.kiln.internal.tar;

import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;

/**
 * Run in a child JVM with a small heap by {@link CanonicalLayerWriterTest}: writes a layer of over 300 MB (one file
 * read when the layer is written, one spooled from a stream) and prints "diffIdHex uncompressedSize file".
 */
public final class LowMemoryMain {
  private LowMemoryMain() {}

  public static void main(String[] args) throws IOException {
    Path out = Path.of(args[0]);
    ExecutorService pool = TarTestSupport.pool(Runtime.getRuntime().availableProcessors());
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(out, 1, 1, pool)) {
      long big = 200L << 20;
      long spooled = 110L << 20;
      w.add(LayerEntry.file("data/big.bin", 0644, big, () -> new Generated(big, 1)));
      w.add(CanonicalLayerWriterTest.streamed("data/spooled.bin", 0644, spooled), new Generated(spooled, 2));
      LayerBlob blob = w.finish();
      System.out.println(blob.diffId().hex() + " " + blob.uncompressedSize() + " " + blob.file());
    } finally {
      pool.shutdownNow();
    }
  }

  /** Cheap pseudo-random bytes that deflate must work on, produced without holding them. */
  private static final class Generated extends InputStream {
    private long remaining;
    private long state;

    Generated(long size, long seed) {
      this.remaining = size;
      this.state = seed;
    }

    @Override
    public int read() {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (remaining == 0) {
        return -1;
      }
      int n = (int) Math.min(len, remaining);
      for (int i = 0; i < n; i++) {
        state = state * 6364136223846793005L + 1442695040888963407L;
        // few distinct values, so the data compresses a little but not trivially
        b[off + i] = (byte) ((state >>> 59) + 'a');
      }
      remaining -= n;
      return n;
    }
  }
}
