package dev.kiln.internal.tar;

import dev.kiln.internal.deflate.DeflateEngine;
import dev.kiln.internal.tar.ParallelGzipOutputStream.Candidate;
import dev.kiln.internal.tar.ParallelGzipOutputStream.ChunkSource;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * What compresses the chunks of one {@link ParallelGzipOutputStream}, shared by its {@link
 * GzipChunk}s on every thread: the level, the deflate engines (reused across chunks, ended when the
 * stream is done with them), and, when the stream records its chunks, their keys and the earlier
 * output whose chunks may be copied instead of deflated.
 *
 * <p>A chunk's <em>key</em> is the SHA-256 of what determines its compressed bytes: the level,
 * whether it is the last chunk, the 32 KiB of input before it and its input. A chunk copied from a
 * {@link ChunkSource} is used only when its bytes hash to the SHA-256 recorded with them; anything
 * else (no candidate, an unreadable or damaged one) deflates the chunk, which gives the same bytes.
 */
final class ChunkDeflater {
  private final int level;
  private final DeflateEngine.Factory engines;
  private final ConcurrentLinkedDeque<DeflateEngine> idle = new ConcurrentLinkedDeque<>();
  private volatile boolean keyed;
  private volatile ChunkSource source;

  ChunkDeflater(int level, DeflateEngine.Factory engines) {
    this.level = level;
    this.engines = engines;
  }

  int level() {
    return level;
  }

  /** Records the chunk keys from now on, and copies the chunks {@code source} (may be null) has. */
  void keyed(ChunkSource source) {
    this.source = source;
    this.keyed = true;
  }

  boolean keyed() {
    return keyed;
  }

  /** The key of a chunk: the SHA-256 of the level, the last flag, the dictionary and the input. */
  byte[] key(boolean last, byte[] dict, int dictLen, byte[] in, int inLen) {
    MessageDigest k = newSha256();
    k.update(new byte[] {'k', 'c', '1', (byte) level, (byte) (last ? 1 : 0)});
    k.update(intLe(dictLen));
    k.update(dict, 0, dictLen);
    k.update(intLe(inLen));
    k.update(in, 0, inLen);
    return k.digest();
  }

  /**
   * The earlier output's compressed bytes for {@code key} when they check out against their
   * recorded SHA-256, else null (then the chunk is deflated, as if there had been none).
   */
  Candidate reusable(byte[] key) {
    if (source == null) {
      return null;
    }
    Candidate c;
    try {
      c = source.find(key);
    } catch (IOException e) {
      return null; // an unreadable earlier output: deflate, as if it had not been there
    }
    if (c == null) {
      return null;
    }
    byte[] actual = sha256(c.bytes(), c.bytes().length);
    // a damaged earlier output: deflate, as if it had not been there
    return MessageDigest.isEqual(actual, c.sha256()) ? new Candidate(c.bytes(), actual) : null;
  }

  /** A deflate engine at this level, reset; give it back with {@link #release}. */
  DeflateEngine borrow() {
    DeflateEngine d = idle.poll();
    return d != null ? d : engines.create(level);
  }

  /** Resets {@code d} and keeps it for the next chunk. */
  void release(DeflateEngine d) {
    d.reset();
    idle.push(d);
  }

  /** Ends every idle engine; called once no chunk is being compressed any more. */
  void endAll() {
    DeflateEngine d;
    while ((d = idle.poll()) != null) {
      d.end();
    }
  }

  static byte[] sha256(byte[] b, int len) {
    MessageDigest h = newSha256();
    h.update(b, 0, len);
    return h.digest();
  }

  static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }

  static void putIntLe(byte[] b, int off, int v) {
    b[off] = (byte) v;
    b[off + 1] = (byte) (v >>> 8);
    b[off + 2] = (byte) (v >>> 16);
    b[off + 3] = (byte) (v >>> 24);
  }

  private static byte[] intLe(int v) {
    byte[] b = new byte[4];
    putIntLe(b, 0, v);
    return b;
  }
}
