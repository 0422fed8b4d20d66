package dev.kiln.disk;

/**
 * CRC-32C (Castagnoli) in the "raw" form ext4 and e2fsprogs use: the caller passes the running
 * value and no final inversion is applied ({@code java.util.zip.CRC32C} always starts at {@code ~0}
 * and inverts at the end, so it cannot chain from a seed). Thread-safe.
 */
final class Crc32c {
  private static final int[] TABLE = new int[256];

  static {
    for (int i = 0; i < 256; i++) {
      int c = i;
      for (int k = 0; k < 8; k++) {
        c = (c & 1) != 0 ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
      }
      TABLE[i] = c;
    }
  }

  private Crc32c() {}

  static int update(int crc, byte[] b, int off, int len) {
    for (int i = off; i < off + len; i++) {
      crc = TABLE[(crc ^ b[i]) & 0xff] ^ (crc >>> 8);
    }
    return crc;
  }

  static int update(int crc, byte[] b) {
    return update(crc, b, 0, b.length);
  }

  static int updateInt(int crc, int littleEndianValue) {
    for (int i = 0; i < 4; i++) {
      crc = TABLE[(crc ^ (littleEndianValue >>> (8 * i))) & 0xff] ^ (crc >>> 8);
    }
    return crc;
  }
}
