package dev.kiln.internal.remote;

import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import com.google.common.io.CountingInputStream;
import dev.kiln.LayerRecord;
import dev.kiln.internal.store.KeyEntry;
import dev.kiln.spi.RemoteCache;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.LongConsumer;
import java.util.zip.GZIPInputStream;

/** Checks what a remote cache served before the local store trusts it. */
public final class RemoteBlobs {
  private RemoteBlobs() {}

  /**
   * Downloads a layer blob into {@code dest} and checks it against its entry, the check reading the
   * file while the download writes it, so the two overlap (on a fresh machine with a warm cache
   * they are most of the bake). A check that fails on the growing file is repeated on the whole
   * file before it counts: a backend may write out of order or start over. {@code diffIds} also
   * checks the entry's diffID against the decompressed blob. Empty when the blob is right, else
   * what is wrong.
   */
  public static Optional<String> fetchAndCheck(
      RemoteCache remote,
      KeyEntry e,
      Path dest,
      boolean diffIds,
      LongConsumer progress,
      Executor executor)
      throws IOException {
    Tail tail = new Tail(dest);
    CompletableFuture<Optional<String>> check =
        CompletableFuture.supplyAsync(
            () -> {
              try (tail) {
                return check(tail, e, diffIds);
              } catch (IOException ex) {
                return Optional.of(ex.toString());
              }
            },
            executor);
    try {
      remote.fetchBlob(
          e.digest(),
          dest,
          done -> {
            tail.available(done);
            progress.accept(done);
          });
    } finally {
      tail.finish();
    }
    Optional<String> wrong;
    try {
      wrong = check.get();
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while checking " + e.digest());
    } catch (ExecutionException ex) {
      wrong = Optional.of(String.valueOf(ex.getCause()));
    }
    return wrong.isEmpty() ? wrong : check(dest, e, diffIds);
  }

  /**
   * Checks a downloaded layer blob against its entry in one pass: size, blob digest and, when
   * {@code diffIds} is set, the diffID (for a gzip layer, of the decompressed stream: an entry
   * whose diffID is wrong would give images that no runtime accepts). Empty when it is right, else
   * what is wrong.
   */
  public static Optional<String> check(Path file, KeyEntry e, boolean diffIds) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return check(in, e, diffIds);
    }
  }

  private static Optional<String> check(InputStream in, KeyEntry e, boolean diffIds)
      throws IOException {
    boolean gzip = diffIds && LayerRecord.isGzip(e.mediaType());
    CountingInputStream counted = new CountingInputStream(in);
    HashingInputStream compressed = new HashingInputStream(Hashing.sha256(), counted);
    String diffId;
    if (gzip) {
      try (HashingInputStream raw =
          new HashingInputStream(
              Hashing.sha256(), new GZIPInputStream(new NoClose(compressed), 1 << 16))) {
        raw.transferTo(java.io.OutputStream.nullOutputStream());
        diffId = raw.hash().toString();
      } catch (IOException ex) {
        return Optional.of("not a gzip stream: " + ex.getMessage());
      }
      compressed.transferTo(
          java.io.OutputStream.nullOutputStream()); // trailing bytes count towards the blob digest
    } else {
      compressed.transferTo(java.io.OutputStream.nullOutputStream());
      diffId = null;
    }
    if (counted.getCount() != e.size()) {
      return Optional.of("expected " + e.size() + " bytes, received " + counted.getCount());
    }
    String digest = compressed.hash().toString();
    if (!digest.equals(e.digest().hex())) {
      return Optional.of("blob hashes to sha256:" + digest + ", expected " + e.digest());
    }
    if (diffIds && !gzip) {
      diffId = digest; // an uncompressed layer is its own diffID
    }
    if (diffIds && !diffId.equals(e.diffId().hex())) {
      return Optional.of(
          "layer content hashes to sha256:" + diffId + ", its entry says diffID " + e.diffId());
    }
    return Optional.empty();
  }

  /**
   * Reads a file while another thread downloads into it: up to the bytes reported so far, waiting
   * for more until the download finishes.
   */
  private static final class Tail extends InputStream {
    private final Path file;
    private final Object lock = new Object();
    private long available;
    private boolean finished;
    private FileChannel channel;
    private long position;

    Tail(Path file) {
      this.file = file;
    }

    void available(long n) {
      synchronized (lock) {
        available = Math.max(available, n);
        lock.notifyAll();
      }
    }

    void finish() {
      synchronized (lock) {
        finished = true;
        lock.notifyAll();
      }
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      while (true) {
        boolean done;
        long limit;
        synchronized (lock) {
          done = finished;
          limit = available;
        }
        if (channel == null && (limit > 0 || done)) {
          if (!Files.exists(file)) {
            if (done) {
              return -1;
            }
            waitForMore(limit);
            continue;
          }
          channel = FileChannel.open(file, StandardOpenOption.READ);
        }
        if (channel != null) {
          long end = done ? channel.size() : Math.min(limit, channel.size());
          if (position < end) {
            int n =
                channel.read(
                    ByteBuffer.wrap(b, off, (int) Math.min(len, end - position)), position);
            if (n > 0) {
              position += n;
              return n;
            }
          } else if (done) {
            return -1;
          }
        }
        waitForMore(limit);
      }
    }

    private void waitForMore(long seen) throws IOException {
      synchronized (lock) {
        if (!finished && available == seen) {
          try {
            lock.wait(
                10); // also polls: a backend may report progress before its bytes reach the file
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while reading " + file);
          }
        }
      }
    }

    @Override
    public void close() throws IOException {
      if (channel != null) {
        channel.close();
      }
    }
  }

  /** Keeps GZIPInputStream from closing the hashing stream under it. */
  private static final class NoClose extends java.io.FilterInputStream {
    NoClose(InputStream in) {
      super(in);
    }

    @Override
    public void close() {}
  }
}
