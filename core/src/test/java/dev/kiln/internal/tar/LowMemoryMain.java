package dev.kiln.internal.tar;

import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;

/**
 * Run in a child JVM with a small heap by {@link CanonicalLayerWriterTest}: writes a layer of over
 * 300 MB (one file read when the layer is written, one spooled from a stream) and prints "diffIdHex
 * uncompressedSize file".
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
      w.add(
          CanonicalLayerWriterTest.streamed("data/spooled.bin", 0644, spooled),
          new Generated(spooled, 2));
      LayerBlob blob = w.finish();
      System.out.println(blob.diffId().hex() + " " + blob.uncompressedSize() + " " + blob.file());
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Bytes produced without holding them: an 8 KiB random block repeated (with a counter in each
   * copy), so that deflate finds long matches and the test measures memory rather than compression
   * speed.
   */
  private static final class Generated extends InputStream {
    private final byte[] block = new byte[8192];
    private long remaining;
    private int pos;
    private long copies;

    Generated(long size, long seed) {
      this.remaining = size;
      new java.util.Random(seed).nextBytes(block);
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
      if (pos == block.length) {
        pos = 0;
        copies++;
        block[0] = (byte) copies;
        block[1] = (byte) (copies >>> 8);
      }
      int n = (int) Math.min(Math.min(len, remaining), block.length - pos);
      System.arraycopy(block, pos, b, off, n);
      pos += n;
      remaining -= n;
      return n;
    }
  }
}
