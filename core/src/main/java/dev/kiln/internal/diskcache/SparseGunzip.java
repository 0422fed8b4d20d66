package dev.kiln.internal.diskcache;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.GZIPInputStream;

/**
 * Expands a gzip-compressed disk into a sparse file: blocks of zeros become holes, as in the disk
 * that was built.
 */
final class SparseGunzip {
  private static final int BLOCK = 64 * 1024;

  private SparseGunzip() {}

  /** Writes the expanded disk to {@code dest} and returns the SHA-256 of its content. */
  static Digest expand(Path gz, Path dest, long expectedSize) throws IOException {
    Hasher h = Hashing.sha256().newHasher();
    byte[] buf = new byte[BLOCK];
    long pos = 0;
    try (InputStream in = new GZIPInputStream(Files.newInputStream(gz), 1 << 16);
        FileChannel out =
            FileChannel.open(dest, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      while (true) {
        int n = in.readNBytes(buf, 0, BLOCK);
        if (n <= 0) {
          break;
        }
        h.putBytes(buf, 0, n);
        if (!zero(buf, n)) {
          ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
          while (b.hasRemaining()) {
            out.write(b, pos + b.position());
          }
        }
        pos += n;
      }
      if (pos != expectedSize) {
        throw new IOException("disk expands to " + pos + " bytes, expected " + expectedSize);
      }
      if (out.size() < pos) {
        out.write(
            ByteBuffer.wrap(new byte[1]),
            pos - 1); // the length, without filling the hole before it
      }
    }
    return new Digest(h.hash().toString());
  }

  private static boolean zero(byte[] b, int n) {
    for (int i = 0; i < n; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }
}
