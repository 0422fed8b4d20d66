package dev.kiln.internal.tar;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import dev.kiln.Digest;
import dev.kiln.internal.deflate.DeflateEngine;
import dev.kiln.internal.deflate.DeflateEngines;
import java.io.IOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.zip.CRC32;

/**
 * A gzip {@link OutputStream} whose deflate work runs in parallel on an {@link Executor},
 * pigz-style, and whose output depends only on the bytes written and the level: never on thread
 * timing, pool size or how writes are split.
 *
 * <p>The input is cut into chunks of at most {@value #CHUNK_SIZE} bytes: when a chunk is full, and
 * where the writer calls {@link #cut()} (the layer writer does so at some tar entry boundaries,
 * chosen by the entries alone). Each chunk ({@link GzipChunk}) is compressed as raw deflate by its
 * own {@link DeflateEngine}, primed with the 32 KiB of input before it as preset dictionary (so
 * matches may reach back across the cut, as in one long stream) and ended with a sync flush, except
 * the last chunk, which is finished. A chunk's compressed bytes are thus a function of its input,
 * the 32 KiB before it, the level and whether it is the last one: its <em>chunk key</em> is the
 * SHA-256 of those ({@link ChunkDeflater}). The engines are those of {@link
 * DeflateEngines#standard()}, which produce standard zlib's bytes on every platform. The
 * concatenation is one valid deflate stream, framed by a fixed RFC 1952 header (no name, no
 * comment, mtime 0, XFL 0, OS 255) and the CRC-32/ISIZE trailer. Besides the chunk being filled, at
 * most {@code 2 x parallelism} chunks wait for or undergo compression: a write blocks (and helps
 * compressing) until the oldest one is done, so memory stays at about {@code 2 MiB x (2 x
 * parallelism + 1)}.
 *
 * <p>The stream counts and SHA-256-hashes what it emits, so the blob digest of a layer needs no
 * second read. {@link #flush()} only writes out chunks that are already compressed: cutting a chunk
 * early would change the bytes.
 *
 * <p>Incremental rewrites ({@link #reuseChunks}): the stream can record each chunk's key, place and
 * SHA-256 in its output ({@link #chunks()}), and take a {@link ChunkSource} of an earlier output's
 * chunks: a chunk whose key the source knows is copied from it, after its bytes are checked against
 * their recorded SHA-256, instead of deflated. Since the copied bytes are exactly what deflating
 * would produce, the output is the same byte for byte; only the time differs. A layer rewritten
 * after one file changed deflates the chunks around that file and copies the rest.
 *
 * <p>Not thread-safe: one thread writes. The executor may be shared and may even be saturated by
 * the caller's own tasks: the writing thread compresses a chunk itself rather than wait for a pool
 * thread that never comes.
 */
public final class ParallelGzipOutputStream extends OutputStream {
  /** The compression level used when none is given, as {@code gzip -6}. */
  public static final int DEFAULT_LEVEL = 6;

  /** Bytes of input per independently compressed chunk. */
  public static final int CHUNK_SIZE = 1 << 20;

  private static final byte[] HEADER = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff};

  private final OutputStream out;
  private final ChunkDeflater deflater;
  private final ChunkQueue queue;

  /**
   * One chunk of an output: its key, where its compressed bytes start in the gzip stream, their
   * length and SHA-256.
   */
  public record ChunkRecord(byte[] key, long offset, int length, byte[] sha256) {}

  /** Compressed chunks of an earlier output, by chunk key. Called from several threads at once. */
  public interface ChunkSource {
    /**
     * The compressed bytes and their recorded SHA-256 for {@code key}, or null; the stream checks
     * the bytes.
     */
    Candidate find(byte[] key) throws IOException;
  }

  /** What a {@link ChunkSource} offers for a key. */
  public record Candidate(byte[] bytes, byte[] sha256) {}

  private final List<ChunkRecord> records = new ArrayList<>();
  private long reusedBytes;
  private int reusedChunks;
  private boolean cutPending;

  private final CRC32 crc = new CRC32();
  private final MessageDigest sha256 = ChunkDeflater.newSha256();
  private GzipChunk current;
  private long uncompressed;
  private long compressed;
  private boolean headerWritten;
  private boolean finished;
  private boolean closed;
  private IOException failure;
  private Digest digest;

  /** A stream at {@link #DEFAULT_LEVEL} using as many parallel chunks as there are processors. */
  public ParallelGzipOutputStream(OutputStream out, Executor executor) {
    this(out, executor, DEFAULT_LEVEL);
  }

  /** A stream at {@code level} (0-9) using as many parallel chunks as there are processors. */
  public ParallelGzipOutputStream(OutputStream out, Executor executor, int level) {
    this(out, executor, level, Runtime.getRuntime().availableProcessors());
  }

  /** A stream at {@code level} (0-9) keeping at most {@code 2 x parallelism} chunks in flight. */
  public ParallelGzipOutputStream(OutputStream out, Executor executor, int level, int parallelism) {
    this(out, executor, level, parallelism, CHUNK_SIZE);
  }

  /** For tests: a smaller chunk size exercises many chunk boundaries cheaply. */
  ParallelGzipOutputStream(
      OutputStream out, Executor executor, int level, int parallelism, int chunkSize) {
    this(out, executor, level, parallelism, chunkSize, null);
  }

  /**
   * For tests and benchmarks: deflates with engines of {@code engines} (null: {@link
   * DeflateEngines#standard()}) in chunks of {@code chunkSize}.
   */
  public ParallelGzipOutputStream(
      OutputStream out,
      Executor executor,
      int level,
      int parallelism,
      int chunkSize,
      DeflateEngine.Factory engines) {
    this.out = Objects.requireNonNull(out, "out");
    Objects.requireNonNull(executor, "executor");
    checkArgument(level >= 0 && level <= 9, "gzip level must be 0-9, found %s", level);
    checkArgument(parallelism >= 1, "parallelism must be at least 1, found %s", parallelism);
    checkArgument(chunkSize >= 1, "chunk size must be positive, found %s", chunkSize);
    this.deflater = new ChunkDeflater(level, engines != null ? engines : DeflateEngines.standard());
    this.queue = new ChunkQueue(executor, 2 * parallelism, chunkSize, deflater);
    this.current = queue.newChunk();
  }

  /**
   * Records the chunks of this output ({@link #chunks()}) and copies those that {@code previous}
   * (may be null) holds instead of deflating them. Call before the first write.
   */
  public void reuseChunks(ChunkSource previous) {
    checkState(uncompressed == 0 && !finished, "reuseChunks must be called before the first write");
    deflater.keyed(previous);
  }

  /**
   * Ends the current chunk before the next byte written (nothing happens when no byte follows, or
   * the chunk is empty). Where the writer cuts is part of the output: it must depend on the content
   * alone.
   */
  public void cut() {
    cutPending = true;
  }

  /**
   * {@link #cut()} when the current chunk holds at least {@code minBytes}: cuts that keep chunks
   * large.
   */
  public void cutIfAtLeast(int minBytes) {
    if (current != null && current.inLen >= minBytes) {
      cutPending = true;
    }
  }

  /**
   * The chunks of the finished output, in order, when {@link #reuseChunks} was called; else empty.
   */
  public List<ChunkRecord> chunks() {
    checkState(finished, "the gzip stream is not finished yet");
    return List.copyOf(records);
  }

  /** Compressed bytes copied from the chunk source rather than deflated. */
  public long reusedBytes() {
    return reusedBytes;
  }

  /** Chunks copied from the chunk source. */
  public int reusedChunks() {
    return reusedChunks;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    Objects.checkFromIndexSize(off, len, b.length);
    checkOpen();
    if (len > 0 && cutPending) {
      cutPending = false;
      if (current.inLen > 0) {
        rotate();
      }
    }
    while (len > 0) {
      if (current.inLen == current.in.length) {
        // Only now that more input exists is the full chunk known not to be the last one.
        rotate();
      }
      int n = Math.min(len, current.in.length - current.inLen);
      System.arraycopy(b, off, current.in, current.inLen, n);
      crc.update(b, off, n);
      current.inLen += n;
      uncompressed += n;
      off += n;
      len -= n;
    }
  }

  /**
   * Writes out the chunks already compressed; never cuts the current chunk, which would change the
   * output.
   */
  @Override
  public void flush() throws IOException {
    checkOpen();
    try {
      drainDone();
    } catch (IOException e) {
      throw fail(e);
    }
    out.flush();
  }

  /** Compresses what remains and writes the trailer, leaving the underlying stream open. */
  public void finish() throws IOException {
    if (finished) {
      return;
    }
    checkOpen();
    try {
      current.last = true;
      queue.submit(current);
      current = null;
      while (!queue.isEmpty()) {
        queue.awaitHead();
        emitHead();
      }
      writeHeaderIfNeeded();
      byte[] trailer = new byte[8];
      ChunkDeflater.putIntLe(trailer, 0, (int) crc.getValue());
      ChunkDeflater.putIntLe(trailer, 4, (int) uncompressed); // ISIZE is the length modulo 2^32
      emit(trailer, 0, trailer.length);
      out.flush();
    } catch (IOException | RuntimeException e) {
      throw fail(e);
    }
    finished = true;
    digest = Digest.fromBytes(sha256.digest());
  }

  /**
   * Finishes the stream (unless it failed), releases the deflaters and closes the underlying
   * stream.
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    try (OutputStream ignored = out) {
      if (failure == null) {
        finish();
      }
    } finally {
      closed = true;
      quiesce();
    }
  }

  /**
   * Gives up on the stream after a failure elsewhere: compresses nothing more, writes no trailer,
   * waits for the chunks in flight, releases the deflaters and closes the underlying stream,
   * suppressing any error from it.
   */
  void abort() {
    if (closed) {
      return;
    }
    if (failure == null) {
      failure = new IOException("gzip stream aborted");
    }
    closed = true;
    quiesce();
    try {
      out.close();
    } catch (IOException e) {
      // The caller is already handling the failure that made it abort; a second one would only hide
      // it.
    }
  }

  /** Bytes written to this stream so far. */
  public long uncompressedSize() {
    return uncompressed;
  }

  /** Bytes of gzip emitted to the underlying stream so far (all of them once finished). */
  public long compressedSize() {
    return compressed;
  }

  /**
   * The SHA-256 of the whole gzip stream, available once {@link #finish()} or {@link #close()}
   * returned.
   */
  public Digest digest() {
    checkState(digest != null, "the gzip stream is not finished yet");
    return digest;
  }

  private void checkOpen() throws IOException {
    if (failure != null) {
      throw new IOException("gzip stream failed earlier: " + failure.getMessage(), failure);
    }
    if (finished || closed) {
      throw new IOException("gzip stream already finished");
    }
  }

  private IOException fail(Exception e) {
    IOException io =
        e instanceof IOException ? (IOException) e : new IOException(e.getMessage(), e);
    if (failure == null) {
      failure = io;
    }
    return io;
  }

  /** Submits the current chunk and starts the next one, primed with the last 32 KiB of input. */
  private void rotate() throws IOException {
    try {
      while (queue.full()) {
        queue.awaitHead();
        emitHead();
      }
      GzipChunk next = queue.free();
      next.primeAfter(current);
      queue.submit(current);
      current = next;
      drainDone();
    } catch (IOException | RuntimeException e) {
      throw fail(e);
    }
  }

  private void drainDone() throws IOException {
    while (queue.headDone()) {
      emitHead();
    }
  }

  private void emitHead() throws IOException {
    GzipChunk head = queue.pollHead();
    if (head.failure != null) {
      throw new IOException("compressing a gzip chunk failed: " + head.failure, head.failure);
    }
    writeHeaderIfNeeded();
    if (deflater.keyed()) {
      records.add(new ChunkRecord(head.key, compressed, head.outLen, head.sha));
      if (head.reused) {
        reusedBytes += head.outLen;
        reusedChunks++;
      }
    }
    emit(head.out, 0, head.outLen);
    queue.recycle(head);
  }

  private void writeHeaderIfNeeded() throws IOException {
    if (!headerWritten) {
      emit(HEADER, 0, HEADER.length);
      headerWritten = true;
    }
  }

  private void emit(byte[] b, int off, int len) throws IOException {
    out.write(b, off, len);
    sha256.update(b, off, len);
    compressed += len;
  }

  /**
   * Waits for every chunk still in flight (so none uses an engine any more) and ends the engines.
   */
  private void quiesce() {
    queue.quiesce();
    current = null;
  }
}
