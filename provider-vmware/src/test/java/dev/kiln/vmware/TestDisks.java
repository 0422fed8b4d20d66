package dev.kiln.vmware;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

/**
 * Small synthetic raw disks: sparse files with a few runs of data, made the same way every time.
 */
final class TestDisks {
  private TestDisks() {}

  /**
   * A sparse raw disk of {@code size} bytes with data at a few places: text at the start,
   * pseudo-random bytes at a quarter, a repeating pattern across a grain boundary at the middle,
   * and text in the last bytes.
   */
  static Path withData(Path file, long size, long seed) throws IOException {
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ch.truncate(0);
      Random random = new Random(seed);
      put(ch, 0, "KILN TEST DISK seed=" + seed + "\n");
      byte[] noise = new byte[(int) Math.min(200_000, size / 8)];
      random.nextBytes(noise);
      put(ch, size / 4, noise);
      byte[] pattern = new byte[(int) Math.min(150_000, size / 8)];
      for (int i = 0; i < pattern.length; i++) {
        pattern[i] = (byte) ("abcdefgh".charAt(i % 8) + (i / 4096) % 3);
      }
      put(ch, size / 2 - pattern.length / 2, pattern);
      byte[] tail = ("END seed=" + seed).getBytes(StandardCharsets.US_ASCII);
      put(ch, size - tail.length, tail);
    }
    return file;
  }

  /**
   * A raw disk of {@code size} bytes with data only in the given byte ranges (offset, length
   * pairs).
   */
  static Path sparse(Path file, long size, long... ranges) throws IOException {
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ch.truncate(0);
      Random random = new Random(size);
      for (int i = 0; i < ranges.length; i += 2) {
        byte[] b = new byte[(int) ranges[i + 1]];
        random.nextBytes(b);
        put(ch, ranges[i], b);
      }
      if (ch.size() < size) {
        ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
      }
    }
    return file;
  }

  private static void put(FileChannel ch, long at, String s) throws IOException {
    put(ch, at, s.getBytes(StandardCharsets.US_ASCII));
  }

  private static void put(FileChannel ch, long at, byte[] b) throws IOException {
    ByteBuffer bb = ByteBuffer.wrap(b);
    long p = at;
    while (bb.hasRemaining()) {
      p += ch.write(bb, p);
    }
  }
}
