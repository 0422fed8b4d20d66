package dev.kiln.internal.tar;

import static com.google.common.base.Preconditions.checkState;

import dev.kiln.Digest;
import dev.kiln.spi.LayerInProgress;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.security.MessageDigest;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.LongSupplier;

/**
 * Compresses a layer's kept tar into its gzip blob on a thread of its own, reading the tar file
 * while the layer writer writes it: the writer writes and hashes the tar at the speed of the disk,
 * so the diffID and the whole tar are there for a target that takes layers uncompressed before the
 * gzip ends, and the gzip follows at the speed of the compressors.
 *
 * <p>The blob is the same byte for byte as when the writer writes the tar to the gzip stream
 * itself. A gzip stream's output depends on its input and on where it is cut ({@link ChunkCuts}),
 * and whether a cut asked for cuts depends on the stream's state at that point: the writer records
 * each cut, at the tar offset of the entry it precedes, before it writes that entry ({@link
 * #cuts}); the feeder writes the tar to the gzip stream up to each recorded offset, makes the same
 * cut there and goes on. A cut is recorded before the bytes at its offset are in the file, so the
 * feeder, which reads only what is in the file, always knows of it in time.
 *
 * <p>The kept tar is trusted for nothing: the feeder hashes what it reads, and {@link #finish}
 * fails unless that is exactly the tar the writer hashed (the diffID) and of its size, so a blob is
 * never made of other bytes than its diffID says.
 *
 * <p>The feeder gives way to a receiver that takes the tar as it is written ({@link #yieldTo}):
 * while such a reader of the tar's preview is active and getting bytes, the feeder reads nothing.
 * The receiver (the Docker daemon's streamed load) is on the path the bake waits for, and the blob
 * is not yet: on a machine with few cores a gzip running alongside slows the receiver's intake, and
 * the daemon unpacks nothing before it has the whole tar. The feeder catches up while the daemon
 * unpacks. Giving way pays only while the receiver is fast ({@link Yield}): once its reader got
 * nothing for a second (a receiver that stalls, or never reads to the end), or takes the tar slower
 * than 128 MiB/s on average (a slow disk under the daemon, a slow source under the writer: the
 * cores are idle then), the feeder no longer waits for it.
 *
 * <p>The feeder runs on a daemon thread of its own, never on the compressor pool: the gzip stream's
 * writing thread compresses chunks itself when no pool thread is free, so a pool busy with its
 * caller's own tasks slows the feeder down but never stops it. Memory: one piece of {@value #PIECE}
 * bytes, besides the gzip stream's chunks.
 */
final class GzipFeeder {
  /**
   * How the feeder gives way to the readers of the tar's preview: until they got nothing for {@code
   * stallNanos}, or took less than {@code minBytesPerSecond} on average once {@code graceNanos}
   * passed since the first opened.
   */
  record Yield(long stallNanos, long minBytesPerSecond, long graceNanos) {
    static final Yield DEFAULT = new Yield(1_000_000_000L, 128L << 20, 250_000_000L);
  }

  /** Bytes of the tar read and fed at a time. */
  static final int PIECE = 1 << 20;

  /** For tests: what the feeder does before each read of the tar. */
  interface Hook {
    /** Called on the feeder's thread before it reads the tar from {@code position} on. */
    void beforeRead(long position) throws IOException;
  }

  /** A cut before the tar's byte at {@code offset}; {@code minBytes < 0}: unconditional. */
  private record Cut(long offset, int minBytes) {
    void apply(ParallelGzipOutputStream gz) {
      if (minBytes < 0) {
        gz.cut();
      } else {
        gz.cutIfAtLeast(minBytes);
      }
    }
  }

  private final GrowingBlob tar;
  private final ParallelGzipOutputStream gz;
  private final Hook hook;
  private final Queue<Cut> cuts = new ConcurrentLinkedQueue<>();
  private Thread thread;
  private GrowingBlob preview;
  private Yield yield = Yield.DEFAULT;
  private volatile Throwable failure;
  // written by the feeder's thread, read once it ended
  private Digest fed;
  private long fedSize;

  /**
   * Feeds {@code gz} from {@code tar}, the kept tar as the writer writes it; the feeder owns both
   * from {@link #start()} on. {@code hook} may be null.
   */
  GzipFeeder(GrowingBlob tar, ParallelGzipOutputStream gz, Hook hook) {
    this.tar = tar;
    this.gz = gz;
    this.hook = hook;
  }

  /**
   * Where {@link ChunkCuts} records its cuts, at the tar offset {@code offset} gives when it cuts:
   * the number of bytes of the tar written so far.
   */
  ChunkCuts.Target cuts(LongSupplier offset) {
    return new ChunkCuts.Target() {
      @Override
      public void cut() {
        cuts.add(new Cut(offset.getAsLong(), -1));
      }

      @Override
      public void cutIfAtLeast(int minBytes) {
        checkState(minBytes >= 0, "a chunk holds at least 0 bytes, not %s", minBytes);
        cuts.add(new Cut(offset.getAsLong(), minBytes));
      }
    };
  }

  /**
   * Gives way to the active readers of {@code preview}, the tar's preview, as {@code yield} says;
   * before {@link #start}.
   */
  void yieldTo(GrowingBlob preview, Yield yield) {
    this.preview = preview;
    this.yield = yield;
  }

  /** Starts feeding, on a daemon thread of its own. */
  void start() {
    Thread t = new Thread(this::run, "kiln-layer-gzip");
    t.setDaemon(true);
    thread = t;
    t.start();
  }

  /** Fails if the feeder failed already: the writer need not write the rest of the tar. */
  void check() throws IOException {
    Throwable f = failure;
    if (f != null) {
      throw failed(f);
    }
  }

  /**
   * The writer wrote the whole tar, {@code diffId} of {@code size} bytes, and flushed it to the
   * file: the feeder reads to its end (or fails, if the file holds another number of bytes).
   */
  void tarWritten(Digest diffId, long size) {
    tar.complete(new LayerInProgress.Written(diffId, size, diffId, size));
  }

  /**
   * Waits until the feeder has fed the whole tar and finished the gzip stream (after {@link
   * #tarWritten}); fails if it failed, or if what it read is not the tar the writer wrote, {@code
   * diffId} of {@code size} bytes.
   */
  void finish(Digest diffId, long size) throws IOException {
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while the layer's gzip was written");
    }
    tar.close();
    Throwable f = failure;
    if (f != null) {
      throw failed(f);
    }
    if (fedSize != size || !fed.equals(diffId)) {
      throw new IOException(
          String.format(
              "the layer's kept tar read back as %d bytes of SHA-256 %s while it was compressed,"
                  + " but was written as %d bytes of diffID %s: it changed on disk; the layer was"
                  + " not stored",
              fedSize, fed, size, diffId));
    }
  }

  /**
   * Stops the feeder after {@code why} failed the layer: fails the tar's growing blob (a read that
   * waits for more ends), interrupts the feeder and waits until it ended, which it does within the
   * compression of a chunk or two. The gzip stream is the writer's again then.
   */
  void stop(Throwable why) {
    tar.fail(why);
    Thread t = thread;
    if (t != null) {
      t.interrupt();
      boolean interrupted = false;
      while (true) {
        try {
          t.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      tar.close();
    } catch (IOException e) {
      why.addSuppressed(e);
    }
  }

  private static IOException failed(Throwable f) {
    return new IOException("compressing the layer from its kept tar failed: " + f, f);
  }

  private void run() {
    try {
      MessageDigest sha256 = ChunkDeflater.newSha256();
      byte[] piece = new byte[PIECE];
      long pos = 0;
      try (InputStream in = tar.openBlob()) {
        while (true) {
          if (preview != null && !preview.awaitReaders(yield)) {
            preview = null; // a reader that stalled or is slow: not waited for again
          }
          if (hook != null) {
            hook.beforeRead(pos);
          }
          int n = in.read(piece, 0, piece.length);
          if (n < 0) {
            break;
          }
          sha256.update(piece, 0, n);
          int from = 0;
          for (Cut c = cuts.peek(); c != null && c.offset() < pos + n; c = cuts.peek()) {
            checkState(c.offset() >= pos, "a cut at %s came after the byte", c.offset());
            int at = (int) (c.offset() - pos);
            gz.write(piece, from, at - from);
            from = at;
            c.apply(gz);
            cuts.remove();
          }
          gz.write(piece, from, n - from);
          pos += n;
        }
      }
      // the cuts left are at the end of what was read, where no byte follows: they cut nothing
      // (a tar read shorter than it was written fails the check of finish)
      gz.close();
      fedSize = pos;
      fed = Digest.fromBytes(sha256.digest());
    } catch (IOException | RuntimeException | Error e) {
      failure = e;
      gz.abort();
    }
  }
}
