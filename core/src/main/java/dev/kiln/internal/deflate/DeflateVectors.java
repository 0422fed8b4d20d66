package dev.kiln.internal.deflate;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * Known answers of standard zlib (1.2.12 and 1.2.13, as Debian 12's OpenJDK links it): per level,
 * the SHA-256 of what raw deflate makes of fixed inputs in the pattern Kiln's gzip uses — a chunk
 * primed with a preset dictionary longer than the window, ending in a run its input continues,
 * mixing text, zeros, incompressible bytes and a repeated pattern, ended by a sync flush; then a
 * chunk primed with the whole previous one (shorter than the window) and finished; then two bytes,
 * finished. A deflate implementation that chooses other matches or other blocks (zlib-ng, a patched
 * or hardware-accelerated zlib) gives other bytes, and so other blob digests, for the same layer.
 */
final class DeflateVectors {
  /** SHA-256 (hex) of the vectors' compressed bytes, by level 0-9. */
  static final String[] EXPECTED = {
    "578892285003e994a27622aa9761575a91444fefea127f32b5a54422d2a3e154",
    "36d422061be317df4a20c432e76b22d5400a0630733d8af508560b6009119b99",
    "3109eeeda22ab76ae5b533481bfc43c6279ab5fcbca8bbd1ee7bb032e4fc82b9",
    "ca0281ce5389ba3ea9d28d32f0cd57beb9f83458297782608c240ef154f14d0b",
    "9145c3a8cb5054722c6fd374146f5fc7d3a287a30de4908816e6702d47b56941",
    "039ebe68f1bdaf8d904a6f22232c4cf6ee9dc757010e4290d315c4eae0b7e96b",
    "6849d421bcd346f685b90e05f9bccb053bf0a5e3cadb39558802bab3e562e8b9",
    "b3e5c0f85191a5cf7eb6f871a88f552fa767ccfb3cb5395680d9f3779c69ae24",
    "3c2d4d66adb5ae7a2bca77d9a36c8e31ab50d408aa29ea01d7198056b05db363",
    "3c2d4d66adb5ae7a2bca77d9a36c8e31ab50d408aa29ea01d7198056b05db363"
  };

  private static final byte[] DICT;
  private static final byte[] FIRST;
  private static final byte[] SECOND;
  private static final byte[] SHORT = {'k', 'n'};

  static {
    long[] seed = {0x6b696c6e2d7a6c69L};
    DICT = concat(text(seed, 27_432), random(seed, 12_568), run('z', 200));
    FIRST =
        concat(
            run('z', 600), text(seed, 3_000), run(0, 1_000), random(seed, 2_000), pattern(1_400));
    SECOND = concat(text(seed, 1_500), pattern(300), run(0, 200));
  }

  private DeflateVectors() {}

  /** The levels (0-9) at which engines of {@code factory} do not give standard zlib's bytes. */
  static List<Integer> deviatingLevels(DeflateEngine.Factory factory) {
    List<Integer> deviating = new ArrayList<>();
    for (int level = 0; level <= 9; level++) {
      if (!EXPECTED[level].equals(sha256Hex(factory, level))) {
        deviating.add(level);
      }
    }
    return deviating;
  }

  /**
   * The SHA-256 (hex) of the vectors compressed by an engine of {@code factory} at {@code level}.
   */
  static String sha256Hex(DeflateEngine.Factory factory, int level) {
    MessageDigest sha = sha256();
    DeflateEngine d = factory.create(level);
    try {
      byte[] out = new byte[16 * 1024];
      d.setDictionary(DICT, 0, DICT.length);
      d.setInput(FIRST, 0, FIRST.length);
      int n;
      do {
        n = d.deflate(out, 0, out.length, DeflateEngine.SYNC_FLUSH);
        sha.update(out, 0, n);
      } while (n == out.length);
      d.reset();
      d.setDictionary(FIRST, 0, FIRST.length);
      d.setInput(SECOND, 0, SECOND.length);
      finish(d, out, sha);
      d.reset();
      d.setInput(SHORT, 0, SHORT.length);
      finish(d, out, sha);
    } finally {
      d.end();
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  private static void finish(DeflateEngine d, byte[] out, MessageDigest sha) {
    while (!d.finished()) {
      sha.update(out, 0, d.deflate(out, 0, out.length, DeflateEngine.FINISH));
    }
  }

  private static long next(long[] seed) {
    long x = seed[0];
    x ^= x << 13;
    x ^= x >>> 7;
    x ^= x << 17;
    seed[0] = x;
    return x;
  }

  private static byte[] text(long[] seed, int size) {
    String[] words = {
      "layer",
      "image",
      "kiln",
      "digest",
      "the",
      "of",
      "a",
      "blob",
      "tar",
      "gzip",
      "usr",
      "lib",
      "bin",
      "etc",
      "\n",
      "/opt/app/",
      "sha256:",
      "manifest",
      "config",
      "zlib"
    };
    StringBuilder sb = new StringBuilder(size + 16);
    while (sb.length() < size) {
      sb.append(words[(int) Long.remainderUnsigned(next(seed), words.length)]).append(' ');
    }
    return Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), size);
  }

  private static byte[] random(long[] seed, int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (next(seed) >>> 32);
    }
    return b;
  }

  private static byte[] run(int value, int size) {
    byte[] b = new byte[size];
    Arrays.fill(b, (byte) value);
    return b;
  }

  private static byte[] pattern(int size) {
    byte[] p = "0123456789abcdefghijklmnopqrstuvwxyz!".getBytes(StandardCharsets.US_ASCII);
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = p[i % p.length];
    }
    return b;
  }

  private static byte[] concat(byte[]... parts) {
    int size = 0;
    for (byte[] p : parts) {
      size += p.length;
    }
    byte[] b = new byte[size];
    int off = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, b, off, p.length);
      off += p.length;
    }
    return b;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }
}
