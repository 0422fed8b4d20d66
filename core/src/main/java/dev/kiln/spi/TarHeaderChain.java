package dev.kiln.spi;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the raw headers {@link TarLayerReader} recorded for one entry say: whether they are the end
 * of the archive (a zero block), where a header checksum is wrong (commons-compress does not check
 * them), and the {@code SCHILY.xattr.*} values of a PAX header as raw bytes (commons-compress
 * decodes them as UTF-8, which mangles binary attributes such as {@code security.capability}).
 */
final class TarHeaderChain {
  static final int BLOCK = 512;
  static final String XATTR_PREFIX = "SCHILY.xattr.";

  boolean endMarker;
  long badChecksumAt = -1;
  Map<String, byte[]> xattrs;

  /**
   * Walks the headers in {@code rec}, which starts at archive offset {@code start}; headers are
   * block-aligned.
   */
  static TarHeaderChain parse(byte[] rec, int len, long start, boolean overflow) {
    TarHeaderChain chain = new TarHeaderChain();
    if (overflow) {
      return chain;
    }
    long first = (start + BLOCK - 1) / BLOCK * BLOCK;
    long off = first - start;
    while (off + BLOCK <= len) {
      int h = (int) off;
      if (isZero(rec, h, BLOCK)) {
        chain.endMarker = true;
        break;
      }
      if (!checksumOk(rec, h)) {
        chain.badChecksumAt = start + off;
        break;
      }
      char type = (char) rec[h + 156];
      long size = number(rec, h + 124, 12);
      if (type == 'x' && size >= 0 && off + BLOCK + size <= len) {
        Map<String, byte[]> x = paxXattrs(rec, h + BLOCK, (int) (h + BLOCK + size));
        if (chain.xattrs == null) {
          chain.xattrs = x;
        } else {
          chain.xattrs.putAll(x);
        }
      }
      if (size < 0 || !(type == 'x' || type == 'g' || type == 'L' || type == 'K')) {
        break; // the entry's own header: what follows is content
      }
      off += BLOCK + (size + BLOCK - 1) / BLOCK * BLOCK;
    }
    return chain;
  }

  private static boolean isZero(byte[] b, int off, int len) {
    for (int i = off; i < off + len; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * The sum of the header bytes with the checksum field as spaces; old tars summed signed bytes, so
   * accept both.
   */
  private static boolean checksumOk(byte[] h, int off) {
    long stored = number(h, off + 148, 8);
    long unsigned = 0;
    long signed = 0;
    for (int i = 0; i < BLOCK; i++) {
      byte b = (i >= 148 && i < 156) ? (byte) ' ' : h[off + i];
      unsigned += b & 0xff;
      signed += b;
    }
    return stored == unsigned || stored == signed;
  }

  /**
   * An octal field (leading spaces, NUL or space terminated) or a GNU base-256 one; -1 if
   * malformed.
   */
  private static long number(byte[] h, int off, int len) {
    if ((h[off] & 0x80) != 0) {
      long v = h[off] & 0x3f;
      for (int i = 1; i < len; i++) {
        if (v > (Long.MAX_VALUE >> 8)) {
          return -1;
        }
        v = (v << 8) | (h[off + i] & 0xff);
      }
      return (h[off] & 0x40) != 0 ? -1 : v;
    }
    int i = off;
    int end = off + len;
    while (i < end && (h[i] == ' ' || h[i] == 0)) {
      i++;
    }
    long v = 0;
    boolean any = false;
    for (; i < end && h[i] >= '0' && h[i] <= '7'; i++) {
      v = (v << 3) + (h[i] - '0');
      any = true;
    }
    for (; i < end; i++) {
      if (h[i] != ' ' && h[i] != 0) {
        return -1;
      }
    }
    return any ? v : 0;
  }

  /** The {@code SCHILY.xattr.*} records of PAX data, values as raw bytes. */
  private static Map<String, byte[]> paxXattrs(byte[] b, int from, int to) {
    Map<String, byte[]> xattrs = new TreeMap<>();
    int p = from;
    while (p < to) {
      int len = 0;
      int q = p;
      while (q < to && b[q] >= '0' && b[q] <= '9' && len < 100_000_000) {
        len = len * 10 + (b[q++] - '0');
      }
      if (q >= to || b[q] != ' ' || len <= 0 || p + len > to || b[p + len - 1] != '\n') {
        break; // malformed or padding: commons-compress has judged the record already
      }
      int keyStart = q + 1;
      int eq = keyStart;
      while (eq < p + len && b[eq] != '=') {
        eq++;
      }
      if (eq < p + len) {
        String key = new String(b, keyStart, eq - keyStart, UTF_8);
        if (key.startsWith(XATTR_PREFIX)) {
          xattrs.put(
              key.substring(XATTR_PREFIX.length()), Arrays.copyOfRange(b, eq + 1, p + len - 1));
        }
      }
      p += len;
    }
    return xattrs;
  }
}
