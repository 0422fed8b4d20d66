package dev.kiln.internal.deflate;

/**
 * One raw deflate stream (RFC 1951, no zlib or gzip wrapper) at a fixed level, with the default
 * strategy, a 32 KiB window and zlib's default memory level: the part of zlib's {@code deflate}
 * Kiln uses. Its output is the compressed bytes of Kiln's blobs, so an engine must produce exactly
 * what standard zlib produces for the same calls (see {@link DeflateEngines}). Not thread-safe.
 */
public interface DeflateEngine {
  /** Compress what the input allows; emit whole blocks only when the block is full. */
  int NO_FLUSH = 0;

  /** Compress all input and end on a byte boundary with an empty stored block. */
  int SYNC_FLUSH = 2;

  /** Compress all input and end the deflate stream; call until {@link #finished()}. */
  int FINISH = 4;

  /** The compression level, 0-9. */
  int level();

  /** Primes the stream with a preset dictionary (its last 32 KiB count); before any input. */
  void setDictionary(byte[] b, int off, int len);

  /** The input to compress next; the engine keeps a reference until it has consumed it. */
  void setInput(byte[] b, int off, int len);

  /** Whether all input given has been consumed. */
  boolean needsInput();

  /**
   * Compresses into {@code out[off, off+len)} and returns the number of bytes written. With {@link
   * #SYNC_FLUSH} the flush is complete once a call returns less than {@code len}; with {@link
   * #FINISH}, once {@link #finished()}.
   */
  int deflate(byte[] out, int off, int len, int flush);

  /** Whether the stream ended by {@link #FINISH} has been written out completely. */
  boolean finished();

  /** Starts a new stream at the same level, forgetting dictionary and input. */
  void reset();

  /** Releases the engine's resources (native memory for the JDK's); it cannot be used again. */
  void end();

  /** Makes engines: one kind of deflate implementation. */
  interface Factory {
    /** A short name, as the {@code kiln.deflate} property spells it. */
    String name();

    /** A new engine at {@code level} (0-9). */
    DeflateEngine create(int level);
  }
}
