package dev.kiln.internal.tar;

import dev.kiln.Platform;
import dev.kiln.spi.LayerInProgress;
import java.io.Closeable;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The compressed blob a layer writer is writing, readable while it grows ({@link LayerInProgress}).
 * The writer's file stream goes through {@link #counting}, which publishes how many bytes are in
 * the file; readers read the file through one channel opened when the blob was created, so they
 * keep reading after the writer renames or deletes the file. {@link #close()} (at the end of the
 * bake) fails readers still waiting. A reader is <em>active</em> from its opening until it read the
 * end or was closed; {@link #awaitReaders} lets other work on the same bytes give way to active
 * readers. Thread-safe.
 */
public final class GrowingBlob implements LayerInProgress, Closeable {
  private final String name;
  private final FileChannel channel;
  private final CompletableFuture<Written> written = new CompletableFuture<>();
  private final CompletableFuture<Void> ended = new CompletableFuture<>();
  private long size;
  private boolean complete;
  private IOException failure;
  // readers opened that neither read the end nor were closed; when one last got bytes, when the
  // first opened, and how many bytes all got
  private int activeReaders;
  private long lastRead;
  private long firstOpened;
  private long bytesRead;
  private volatile Tar tar;
  private volatile GrowingBlob tarPreview;
  private volatile Platform platform;

  /** A blob for the layer {@code name}, written to {@code file} (which exists, empty). */
  public GrowingBlob(String name, Path file) throws IOException {
    this.name = name;
    this.channel = FileChannel.open(file, StandardOpenOption.READ);
  }

  @Override
  public String name() {
    return name;
  }

  /** Names the platform of the image the layer is written for (in a bake of several). */
  public void platform(Platform platform) {
    this.platform = platform;
  }

  @Override
  public Optional<Platform> platform() {
    return Optional.ofNullable(platform);
  }

  /** Wraps the writer's stream into the file: every byte it has written is then readable. */
  public OutputStream counting(OutputStream out) {
    return new FilterOutputStream(out) {
      @Override
      public void write(int b) throws IOException {
        out.write(b);
        grew(1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        grew(len);
      }
    };
  }

  private synchronized void grew(long n) {
    size += n;
    notifyAll();
  }

  /** The whole blob is written: readers reach its end. */
  public void complete(Written w) {
    synchronized (this) {
      if (complete || failure != null) {
        return;
      }
      if (w.size() != size) {
        failure =
            new IOException("layer '" + name + "': wrote " + size + " bytes, not " + w.size());
        notifyAll();
      } else {
        complete = true;
        notifyAll();
      }
    }
    if (complete) {
      written.complete(w);
    } else {
      written.completeExceptionally(failure);
    }
  }

  /** The write failed or was abandoned: readers get an error, never the end of the blob. */
  public void fail(Throwable why) {
    synchronized (this) {
      if (complete || failure != null) {
        return;
      }
      failure = new IOException("layer '" + name + "' was not written: " + why, why);
      notifyAll();
    }
    written.completeExceptionally(failure);
  }

  /**
   * Offers {@code preview}, the layer's tar being written, of {@code size} bytes, with the blob.
   */
  public void tar(GrowingBlob preview, long size) {
    this.tarPreview = preview;
    this.tar =
        new Tar() {
          @Override
          public long size() {
            return size;
          }

          @Override
          public InputStream open() {
            return preview.openBlob();
          }
        };
  }

  @Override
  public Optional<Tar> tar() {
    return Optional.ofNullable(tar);
  }

  /**
   * Completes once the layer's tar ({@link #tar()}) is written, with its diffID and size, which may
   * be before the blob is; never completes when the layer has no tar preview.
   */
  public CompletionStage<Written> tarWritten() {
    GrowingBlob t = tarPreview;
    return t == null ? new CompletableFuture<>() : t.written();
  }

  @Override
  public CompletionStage<Written> written() {
    return written.copy();
  }

  @Override
  public InputStream openBlob() {
    return new Reader();
  }

  @Override
  public CompletionStage<Void> bakeEnded() {
    return ended.copy();
  }

  /**
   * The bake ended: fails readers that are still waiting, releases the file, and completes {@link
   * #bakeEnded()}.
   */
  @Override
  public void close() throws IOException {
    fail(new IOException("the bake ended"));
    GrowingBlob t = tarPreview;
    if (t != null) {
      t.close();
    }
    try {
      channel.close();
    } finally {
      ended.complete(null);
    }
  }

  /**
   * Waits while a reader of this blob is active and taking the bytes fast: work that reads the same
   * bytes for a purpose nobody waits for yet (the gzip of a tar a receiver takes uncompressed as it
   * is written) leaves the cores to that receiver. Returns true once no reader is active, and when
   * the blob failed or the bake ended; false when giving way no longer pays, as {@code yield} says:
   * the readers got nothing for its stall time (a receiver that stalled), or took less than its
   * minimum rate on average once its grace time passed since the first opened (a slow receiver, or
   * a slow writer: the cores are idle then).
   */
  boolean awaitReaders(GzipFeeder.Yield yield) throws InterruptedIOException {
    synchronized (this) {
      while (activeReaders > 0 && failure == null) {
        long now = System.nanoTime();
        long left = yield.stallNanos() - (now - lastRead);
        if (left <= 0) {
          return false;
        }
        long since = now - firstOpened;
        if (since > yield.graceNanos()
            && bytesRead * 1_000_000_000.0 / since < yield.minBytesPerSecond()) {
          return false;
        }
        try {
          wait(Math.max(1, Math.min(left, yield.graceNanos()) / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException(
              "interrupted while giving way to the readers of layer '" + name + "'");
        }
      }
      return true;
    }
  }

  private synchronized void readerOpened() {
    if (activeReaders == 0 && bytesRead == 0) {
      firstOpened = System.nanoTime();
    }
    activeReaders++;
    lastRead = System.nanoTime();
  }

  private synchronized void readerDone() {
    activeReaders--;
    notifyAll();
  }

  private synchronized void readerGot(int n) {
    bytesRead += n;
    lastRead = System.nanoTime();
  }

  /** Waits until the blob has more than {@code pos} bytes; -1 at its end. */
  private synchronized long waitFor(long pos) throws IOException {
    while (true) {
      if (failure != null) {
        throw failure;
      }
      if (size > pos) {
        return size - pos;
      }
      if (complete) {
        return -1;
      }
      try {
        wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for layer '" + name + "'");
      }
    }
  }

  private final class Reader extends InputStream {
    private long pos;
    private boolean closed;
    private boolean done;

    Reader() {
      readerOpened();
    }

    /** The reader read the end or was closed: no longer active. */
    private synchronized void done() {
      if (!done) {
        done = true;
        readerDone();
      }
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (closed) {
        throw new IOException("stream closed");
      }
      if (len == 0) {
        return 0;
      }
      long avail = waitFor(pos);
      if (avail < 0) {
        done();
        return -1;
      }
      int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, avail)), pos);
      if (n < 0) {
        // the file is shorter than what was written to it: someone else cut it
        throw new IOException("layer '" + name + "': its file ended at " + pos + " bytes");
      }
      pos += n;
      readerGot(n);
      return n;
    }

    /** The bytes written beyond this stream's position: a read of them does not wait. */
    @Override
    public int available() throws IOException {
      synchronized (GrowingBlob.this) {
        if (failure != null) {
          throw failure;
        }
        return (int) Math.min(Integer.MAX_VALUE, Math.max(0, size - pos));
      }
    }

    /**
     * Skips up to {@code n} of the bytes written beyond this stream's position, without reading.
     */
    @Override
    public long skip(long n) throws IOException {
      synchronized (GrowingBlob.this) {
        if (failure != null) {
          throw failure;
        }
        long k = Math.max(0, Math.min(n, size - pos));
        pos += k;
        return k;
      }
    }

    @Override
    public void close() {
      done();
      closed = true;
    }
  }
}
