package dev.kiln.internal.tar;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import dev.kiln.Digest;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A gzip {@link OutputStream} whose deflate work runs in parallel on an {@link Executor},
 * pigz-style, and whose output depends only on the bytes written and the level: never on thread
 * timing, pool size or how writes are split.
 *
 * <p>The input is cut into chunks of at most {@value #CHUNK_SIZE} bytes: when a chunk is full, and
 * where the writer calls {@link #cut()} (the layer writer does so at some tar entry boundaries,
 * chosen by the entries alone). Each chunk is compressed as raw deflate by its own {@link
 * Deflater}, primed with the 32 KiB of input before it as preset dictionary (so matches may reach
 * back across the cut, as in one long stream) and ended with a sync flush, except the last chunk,
 * which is finished. A chunk's compressed bytes are thus a function of its input, the 32 KiB before
 * it, the level and whether it is the last one: its <em>chunk key</em> is the SHA-256 of those. The
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

  private static final int DICT_SIZE = 32 * 1024;
  private static final byte[] HEADER = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff};

  private final OutputStream out;
  private final Executor executor;
  private final int level;
  private final int chunkSize;
  private final int maxInFlight;

  private final ArrayDeque<Chunk> inFlight = new ArrayDeque<>();
  private final ArrayDeque<Chunk> free = new ArrayDeque<>();

  /**
   * Deflaters are reused across chunks of this stream; ended on close so no native memory outlives
   * it.
   */
  private final ConcurrentLinkedDeque<Deflater> deflaters = new ConcurrentLinkedDeque<>();

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

  private boolean keyed;
  private ChunkSource source;
  private final java.util.List<ChunkRecord> records = new java.util.ArrayList<>();
  private long reusedBytes;
  private int reusedChunks;
  private boolean cutPending;

  private final CRC32 crc = new CRC32();
  private final MessageDigest sha256 = newSha256();
  private Chunk current;
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
    this.out = Objects.requireNonNull(out, "out");
    this.executor = Objects.requireNonNull(executor, "executor");
    checkArgument(level >= 0 && level <= 9, "gzip level must be 0-9, found %s", level);
    checkArgument(parallelism >= 1, "parallelism must be at least 1, found %s", parallelism);
    checkArgument(chunkSize >= 1, "chunk size must be positive, found %s", chunkSize);
    this.level = level;
    this.chunkSize = chunkSize;
    this.maxInFlight = 2 * parallelism;
    this.current = new Chunk();
  }

  /**
   * Records the chunks of this output ({@link #chunks()}) and copies those that {@code previous}
   * (may be null) holds instead of deflating them. Call before the first write.
   */
  public void reuseChunks(ChunkSource previous) {
    checkState(uncompressed == 0 && !finished, "reuseChunks must be called before the first write");
    this.keyed = true;
    this.source = previous;
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
  public java.util.List<ChunkRecord> chunks() {
    checkState(finished, "the gzip stream is not finished yet");
    return java.util.List.copyOf(records);
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
      if (current.inLen == chunkSize) {
        // Only now that more input exists is the full chunk known not to be the last one.
        rotate();
      }
      int n = Math.min(len, chunkSize - current.inLen);
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
      submit(current);
      current = null;
      while (!inFlight.isEmpty()) {
        awaitHead();
        emitHead();
      }
      writeHeaderIfNeeded();
      byte[] trailer = new byte[8];
      putIntLe(trailer, 0, (int) crc.getValue());
      putIntLe(trailer, 4, (int) uncompressed); // ISIZE is the length modulo 2^32
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
      Chunk next = acquire();
      // the tail of the input so far: of the current chunk, and of its own dictionary when the
      // chunk is shorter
      int fromIn = Math.min(DICT_SIZE, current.inLen);
      int fromDict = Math.min(DICT_SIZE - fromIn, current.dictLen);
      System.arraycopy(current.dict, current.dictLen - fromDict, next.dict, 0, fromDict);
      System.arraycopy(current.in, current.inLen - fromIn, next.dict, fromDict, fromIn);
      next.dictLen = fromDict + fromIn;
      submit(current);
      current = next;
      drainDone();
    } catch (IOException | RuntimeException e) {
      throw fail(e);
    }
  }

  /**
   * A free chunk; blocks (compressing in this thread if need be) while the maximum is in flight.
   */
  private Chunk acquire() throws IOException {
    while (inFlight.size() >= maxInFlight) {
      awaitHead();
      emitHead();
    }
    Chunk c = free.poll();
    if (c == null) {
      c = new Chunk();
    }
    c.reset();
    return c;
  }

  private void submit(Chunk chunk) {
    chunk.state.set(Chunk.QUEUED);
    inFlight.addLast(chunk);
    try {
      executor.execute(chunk);
    } catch (RejectedExecutionException e) {
      // A shut-down or bounded pool is no reason to fail: the chunk stays queued and this thread
      // compresses it.
    }
  }

  private void drainDone() throws IOException {
    while (!inFlight.isEmpty() && inFlight.peekFirst().state.get() == Chunk.DONE) {
      emitHead();
    }
  }

  /**
   * Waits until the oldest chunk is compressed. Rather than idle, this thread compresses queued
   * chunks that no pool thread has picked up yet (the oldest first), which also rules out a
   * deadlock on a pool saturated by our caller.
   */
  private void awaitHead() throws IOException {
    Chunk head = inFlight.peekFirst();
    for (Chunk c : inFlight) {
      if (head.state.get() == Chunk.DONE) {
        break;
      }
      c.tryRun();
    }
    try {
      head.awaitDone();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while compressing");
    }
  }

  private void emitHead() throws IOException {
    Chunk head = inFlight.pollFirst();
    if (head.failure != null) {
      throw new IOException("compressing a gzip chunk failed: " + head.failure, head.failure);
    }
    writeHeaderIfNeeded();
    if (keyed) {
      records.add(new ChunkRecord(head.key, compressed, head.outLen, head.sha));
      if (head.reused) {
        reusedBytes += head.outLen;
        reusedChunks++;
      }
    }
    emit(head.out, 0, head.outLen);
    head.state.set(Chunk.IDLE);
    free.addLast(head);
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
   * Waits for every chunk still in flight (so none uses a deflater any more) and ends the
   * deflaters.
   */
  private void quiesce() {
    boolean interrupted = false;
    for (Chunk c : inFlight) {
      c.tryRun();
      while (true) {
        try {
          c.awaitDone();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    inFlight.clear();
    free.clear();
    current = null;
    Deflater d;
    while ((d = deflaters.poll()) != null) {
      d.end();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private Deflater borrowDeflater() {
    Deflater d = deflaters.poll();
    return d != null ? d : new Deflater(level, true);
  }

  private static byte[] intLe(int v) {
    byte[] b = new byte[4];
    putIntLe(b, 0, v);
    return b;
  }

  private static void putIntLe(byte[] b, int off, int v) {
    b[off] = (byte) v;
    b[off + 1] = (byte) (v >>> 8);
    b[off + 2] = (byte) (v >>> 16);
    b[off + 3] = (byte) (v >>> 24);
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }

  /**
   * One chunk of input and its compressed form. Claimed by exactly one thread (a pool thread or the
   * writer) through a compare-and-set on {@link #state}, so a stale or duplicate execution is a
   * no-op.
   */
  private final class Chunk implements Runnable {
    static final int IDLE = 0;
    static final int QUEUED = 1;
    static final int RUNNING = 2;
    static final int DONE = 3;

    final AtomicInteger state = new AtomicInteger(IDLE);
    final byte[] in = new byte[chunkSize];
    final byte[] dict = new byte[DICT_SIZE];
    int inLen;
    int dictLen;
    boolean last;
    // Incompressible input grows by a few bytes per 16 KiB stored block; start with room for that.
    byte[] out = new byte[chunkSize + (chunkSize >> 6) + 64];
    int outLen;
    Throwable failure;
    byte[] key;
    byte[] sha;
    boolean reused;

    void reset() {
      inLen = 0;
      dictLen = 0;
      last = false;
      outLen = 0;
      failure = null;
      key = null;
      sha = null;
      reused = false;
    }

    @Override
    public void run() {
      tryRun();
    }

    void tryRun() {
      if (state.compareAndSet(QUEUED, RUNNING)) {
        try {
          compress();
        } catch (Throwable t) {
          failure = t;
        } finally {
          synchronized (this) {
            state.set(DONE);
            notifyAll();
          }
        }
      }
    }

    synchronized void awaitDone() throws InterruptedException {
      while (state.get() != DONE) {
        wait();
      }
    }

    private void compress() {
      if (keyed) {
        MessageDigest k = newSha256();
        k.update(new byte[] {'k', 'c', '1', (byte) level, (byte) (last ? 1 : 0)});
        k.update(intLe(dictLen));
        k.update(dict, 0, dictLen);
        k.update(intLe(inLen));
        k.update(in, 0, inLen);
        key = k.digest();
        Candidate c = null;
        if (source != null) {
          try {
            c = source.find(key);
          } catch (IOException e) {
            c = null; // an unreadable earlier output: deflate, as if it had not been there
          }
        }
        if (c != null) {
          MessageDigest h = newSha256();
          h.update(c.bytes());
          byte[] actual = h.digest();
          if (MessageDigest.isEqual(actual, c.sha256())) {
            if (out.length < c.bytes().length) {
              out = new byte[c.bytes().length];
            }
            System.arraycopy(c.bytes(), 0, out, 0, c.bytes().length);
            outLen = c.bytes().length;
            sha = actual;
            reused = true;
            return;
          }
          // a damaged earlier output: deflate, as if it had not been there
        }
      }
      deflate();
      if (keyed) {
        MessageDigest h = newSha256();
        h.update(out, 0, outLen);
        sha = h.digest();
      }
    }

    private void deflate() {
      Deflater d = borrowDeflater();
      try {
        if (dictLen > 0) {
          d.setDictionary(dict, 0, dictLen);
        }
        d.setInput(in, 0, inLen);
        outLen = 0;
        if (last) {
          d.finish();
          while (!d.finished()) {
            ensureRoom();
            outLen += d.deflate(out, outLen, out.length - outLen, Deflater.NO_FLUSH);
          }
        } else {
          // A sync flush ends on a byte boundary (empty stored block), so the next chunk's bits can
          // follow it.
          int room;
          int n;
          do {
            ensureRoom();
            room = out.length - outLen;
            n = d.deflate(out, outLen, room, Deflater.SYNC_FLUSH);
            outLen += n;
          } while (n == room);
        }
      } finally {
        d.reset();
        deflaters.push(d);
      }
    }

    private void ensureRoom() {
      if (out.length - outLen < 64) {
        out = Arrays.copyOf(out, out.length + (out.length >> 2) + 64);
      }
    }
  }
}
