package dev.kiln.internal.tar;

import java.util.Comparator;

/**
 * The canonical order of paths in a layer: segment by segment, so that a directory comes right
 * before everything under it ({@code a < a/b < a/b/c < a-b}, whereas plain string order would put
 * {@code a-b} between {@code a} and {@code a/b}); within one directory, OCI whiteout names ({@code
 * .wh.*}) come before their siblings, as the OCI image spec recommends, and other names compare by
 * Unicode code point, which is also the order of their UTF-8 bytes.
 */
public final class PathOrder {
  public static final Comparator<String> COMPARATOR = PathOrder::compare;

  private static final String WHITEOUT_PREFIX = ".wh.";

  private PathOrder() {}

  public static int compare(String a, String b) {
    // skip the segments both share (most compared paths are siblings deep in one tree)
    int n = Math.min(a.length(), b.length());
    int m = 0;
    while (m < n && a.charAt(m) == b.charAt(m)) {
      m++;
    }
    if (m == a.length() && m == b.length()) {
      return 0;
    }
    int i = a.lastIndexOf('/', m - 1) + 1;
    int j = i;
    while (true) {
      int endA = segmentEnd(a, i);
      int endB = segmentEnd(b, j);
      int c = compareSegment(a, i, endA, b, j, endB);
      if (c != 0) {
        return c;
      }
      boolean lastA = endA == a.length();
      boolean lastB = endB == b.length();
      if (lastA || lastB) {
        return lastA == lastB ? 0 : lastA ? -1 : 1;
      }
      i = endA + 1;
      j = endB + 1;
    }
  }

  private static int segmentEnd(String s, int from) {
    int end = s.indexOf('/', from);
    return end < 0 ? s.length() : end;
  }

  private static int compareSegment(String a, int i, int endA, String b, int j, int endB) {
    boolean whA = a.startsWith(WHITEOUT_PREFIX, i) && endA - i >= WHITEOUT_PREFIX.length();
    boolean whB = b.startsWith(WHITEOUT_PREFIX, j) && endB - j >= WHITEOUT_PREFIX.length();
    if (whA != whB) {
      return whA ? -1 : 1;
    }
    while (i < endA && j < endB) {
      char ca = a.charAt(i++);
      char cb = b.charAt(j++);
      if (ca != cb) {
        // A surrogate stands for a code point above U+FFFF, so it sorts after any other BMP
        // character.
        boolean sa = Character.isSurrogate(ca);
        boolean sb = Character.isSurrogate(cb);
        if (sa != sb) {
          return sa ? 1 : -1;
        }
        return ca < cb ? -1 : 1;
      }
    }
    return Integer.compare(endA - i, endB - j);
  }
}
