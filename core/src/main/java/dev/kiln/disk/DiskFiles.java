package dev.kiln.disk;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;

/** Positional I/O helpers for disk image files. */
final class DiskFiles {
  private DiskFiles() {}

  static void writeFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      pos += ch.write(b, pos);
    }
  }

  static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      int n = ch.read(b, pos);
      if (n < 0) {
        throw new EOFException("unexpected end of disk image at byte " + pos);
      }
      pos += n;
    }
  }

  /**
   * Writes {@code data} at {@code pos}, but only the 4 KiB chunks that differ from what is there,
   * so that an unchanged region of a copied disk stays unchanged (and, on a sparse file,
   * unallocated). Returns the bytes written.
   */
  static long writeChanged(FileChannel ch, byte[] data, long pos) throws IOException {
    final int chunk = 4096;
    byte[] old = new byte[chunk];
    long written = 0;
    for (int off = 0; off < data.length; off += chunk) {
      int len = Math.min(chunk, data.length - off);
      ByteBuffer ob = ByteBuffer.wrap(old, 0, len);
      readFully(ch, ob, pos + off);
      if (!Arrays.equals(old, 0, len, data, off, off + len)) {
        writeFully(ch, ByteBuffer.wrap(data, off, len), pos + off);
        written += len;
      }
    }
    return written;
  }

  /**
   * Writes the 4 KiB chunks of {@code data} that are not all zero (the file is known to be zero
   * there).
   */
  static void writeNonZero(FileChannel ch, byte[] data, long pos) throws IOException {
    final int chunk = 4096;
    byte[] zero = new byte[chunk];
    for (int off = 0; off < data.length; off += chunk) {
      int len = Math.min(chunk, data.length - off);
      if (!Arrays.equals(zero, 0, len, data, off, off + len)) {
        writeFully(ch, ByteBuffer.wrap(data, off, len), pos + off);
      }
    }
  }
}
