package dev.kiln.docker;

import dev.kiln.Digest;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerInProgress;
import dev.kiln.spi.UncompressedLayers;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.function.LongConsumer;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * A load into the Docker daemon started while the bake writes the image's layers: {@code POST
 * /images/load} runs on a thread of its own, its body a pipe into which another thread writes a
 * docker-archive whose first entries are the layers' uncompressed tars, each from its preview
 * ({@link LayerInProgress#tar()}) as it is written, in the order the layers started, named {@code
 * streamed-N/layer.tar} (their digests are not known yet). {@link #complete} appends what the image
 * needs besides, the config and {@code manifest.json} last: the daemon unpacks nothing before it
 * has the whole archive, so an archive cut off before the manifest loads nothing. Each streamed tar
 * is hashed as it goes in and must match the diffID its layer was written with. Whatever fails (a
 * preview error, a mismatch, the daemon's refusal) {@link #abort aborts} the request, which the
 * daemon sees as a broken body and discards. Thread-safe.
 */
final class StreamedLoad {
  private static final int PIPE_BYTES = 1 << 20;

  /** Opens the daemon: may block (connecting), so it is called on the load's own thread. */
  interface DaemonSource {
    Daemon open() throws IOException;
  }

  private final Pipe pipe = new Pipe(PIPE_BYTES);
  private final TarArchiveOutputStream tar = DockerArchive.newTar(pipe.out);
  private final List<Streamed> layers = new ArrayList<>(); // guarded by this
  private final Thread writer;
  private final Thread loader;
  private boolean taken; // guarded by this: no more layers, the rest is the publisher's
  private boolean finished; // guarded by this: the archive is whole, nothing to abort
  private IOException failure; // guarded by this
  private volatile Throwable loadFailure;

  private static final class Streamed {
    final int n;
    final LayerInProgress layer;
    final LayerInProgress.Tar tar;
    Digest sent; // the digest of the bytes that went in, once the whole tar did

    Streamed(int n, LayerInProgress layer, LayerInProgress.Tar tar) {
      this.n = n;
      this.layer = layer;
      this.tar = tar;
    }

    String name() {
      return "streamed-" + n + "/layer.tar";
    }
  }

  private StreamedLoad(DaemonSource source, String what) {
    loader =
        new Thread(
            () -> {
              try {
                source.open().load(pipe.in);
              } catch (IOException | RuntimeException | Error e) {
                loadFailure = e;
                abort(e);
              } finally {
                // a writer never blocks on a pipe nobody reads any more
                pipe.fail(new IOException("the daemon stopped reading the archive of " + what));
              }
            },
            "kiln-daemon-load " + what);
    writer = new Thread(this::writeLayers, "kiln-daemon-stream " + what);
    loader.setDaemon(true);
    writer.setDaemon(true);
  }

  /** Starts the load; {@code what} names it in thread names and errors. */
  static StreamedLoad start(DaemonSource source, String what) {
    StreamedLoad s = new StreamedLoad(source, what);
    s.loader.start();
    s.writer.start();
    return s;
  }

  /**
   * Puts the tar of {@code layer} into the archive after the layers added before it; false if the
   * load no longer takes layers (taken by a publication, or aborted).
   */
  synchronized boolean add(LayerInProgress layer) {
    if (taken || failure != null || layer.tar().isEmpty()) {
      return false;
    }
    layers.add(new Streamed(layers.size(), layer, layer.tar().get()));
    notifyAll();
    return true;
  }

  /** The number of layers streamed so far or queued. */
  synchronized int size() {
    return layers.size();
  }

  /** The writer's thread: each layer's tar as it is written, until taken or aborted. */
  private void writeLayers() {
    int next = 0;
    try {
      while (true) {
        Streamed s;
        synchronized (this) {
          while (failure == null && !taken && next >= layers.size()) {
            wait();
          }
          if (failure != null || next >= layers.size()) {
            return; // aborted, or taken with every layer in
          }
          s = layers.get(next++);
        }
        stream(s);
      }
    } catch (IOException | RuntimeException e) {
      abort(e);
    } catch (InterruptedException e) {
      abort(new InterruptedIOException("interrupted while streaming a layer"));
    }
  }

  private void stream(Streamed s) throws IOException {
    MessageDigest sha = sha256();
    String dir = "streamed-" + s.n + "/";
    DockerArchive.directory(tar, dir);
    DockerArchive.startFile(tar, s.name(), s.tar.size());
    long got = 0;
    try (InputStream in = s.tar.open()) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        synchronized (this) {
          if (failure != null) {
            throw new IOException("the load was aborted", failure);
          }
        }
        tar.write(buf, 0, n); // more than the announced size throws here
        sha.update(buf, 0, n);
        got += n;
      }
    }
    if (got != s.tar.size()) {
      throw new IOException(
          "layer '"
              + s.layer.name()
              + "': its tar ended at "
              + got
              + " of "
              + s.tar.size()
              + " bytes");
    }
    tar.closeArchiveEntry();
    Digest sent = Digest.fromBytes(sha.digest());
    synchronized (this) {
      s.sent = sent;
    }
  }

  /**
   * Takes the load for {@code image}: waits until every streamed layer is in the archive, appends
   * the layers above the lowest {@code present} that were not streamed (from {@code tars} or the
   * stored blobs), the config and the manifest, and waits for the daemon's answer. On any failure
   * the request is aborted before this throws, so the daemon loads nothing from it.
   *
   * @return what went in
   */
  Result complete(
      ImageView image, String repoTag, int present, UncompressedLayers tars, LongConsumer progress)
      throws IOException {
    List<Streamed> all;
    synchronized (this) {
      if (failure != null) {
        throw failure;
      }
      taken = true;
      notifyAll();
      all = List.copyOf(layers);
    }
    try {
      for (Streamed s : all) {
        if (!s.layer.written().toCompletableFuture().isDone()) {
          // not a layer of this image (those are all written): do not wait for it
          throw new IOException("layer '" + s.layer.name() + "' is still being written");
        }
      }
      join(writer);
      Map<Digest, String> names = new LinkedHashMap<>();
      synchronized (this) {
        if (failure != null) {
          throw failure;
        }
      }
      for (Streamed s : all) {
        LayerInProgress.Written w;
        try {
          w = s.layer.written().toCompletableFuture().get();
        } catch (ExecutionException e) {
          throw new IOException(
              "layer '" + s.layer.name() + "' was not written: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted while loading the image");
        }
        Digest sent;
        synchronized (this) {
          sent = s.sent;
        }
        if (!w.diffId().equals(sent)) {
          throw new IOException(
              "the tar of layer '"
                  + s.layer.name()
                  + "' streamed into the daemon is "
                  + sent
                  + ", not its diffID "
                  + w.diffId()
                  + " (changed while it was written)");
        }
        names.putIfAbsent(w.diffId(), s.name());
      }
      int used = 0;
      for (int i = present; i < image.layers().size(); i++) {
        if (names.containsKey(image.layers().get(i).diffId())) {
          used++;
        }
      }
      long bytes = DockerArchive.finish(tar, image, repoTag, present, names, tars, progress);
      synchronized (this) {
        finished = true;
      }
      join(loader);
      Throwable t = loadFailure;
      if (t instanceof IOException io) {
        throw io;
      }
      if (t instanceof RuntimeException r) {
        throw r;
      }
      if (t != null) {
        throw new IOException(t);
      }
      return new Result(bytes, used);
    } catch (IOException | RuntimeException e) {
      abort(e);
      awaitLoader();
      Throwable t = loadFailure;
      // the daemon's own reason, when it refused the archive, says more than the broken pipe
      if (t instanceof IOException io && io != e && stoppedReading(e)) {
        throw io;
      }
      throw e;
    }
  }

  private static boolean stoppedReading(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (String.valueOf(c.getMessage()).contains("stopped reading")) {
        return true;
      }
    }
    return false;
  }

  /**
   * Aborts the request unless the archive is whole: the daemon gets a broken body and loads nothing
   * from it. Returns at once; {@link #awaitLoader} waits for the daemon's side to end.
   */
  void abort(Throwable why) {
    IOException e =
        why instanceof IOException io ? io : new IOException("the load was aborted: " + why, why);
    synchronized (this) {
      if (finished || failure != null) {
        return;
      }
      failure = e;
      notifyAll();
    }
    pipe.fail(e);
  }

  /** Waits until the request has ended (answered or aborted). */
  void awaitLoader() throws InterruptedIOException {
    join(loader);
  }

  /** Whether this load's threads have ended (for tests). */
  boolean ended() {
    return !loader.isAlive() && !writer.isAlive();
  }

  private static void join(Thread t) throws InterruptedIOException {
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while loading the image");
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What a completed load sent: blob bytes in all, and how many layers went in streamed. */
  record Result(long bytes, int layersStreamed) {}

  /**
   * A bounded pipe between two threads: the writer blocks while it is full. Either side may fail
   * it; the other side then gets an {@link IOException}, never an end.
   */
  static final class Pipe {
    private final byte[] buf;
    private int head;
    private int count;
    private boolean closed;
    private IOException broken;

    Pipe(int size) {
      buf = new byte[size];
    }

    final InputStream in =
        new InputStream() {
          @Override
          public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
              return 0;
            }
            synchronized (Pipe.this) {
              while (count == 0 && !closed && broken == null) {
                await();
              }
              if (broken != null) {
                throw new IOException(broken.getMessage(), broken);
              }
              if (count == 0) {
                return -1;
              }
              int n = Math.min(len, Math.min(count, buf.length - head));
              System.arraycopy(buf, head, b, off, n);
              head = (head + n) % buf.length;
              count -= n;
              Pipe.this.notifyAll();
              return n;
            }
          }
        };

    final OutputStream out =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
              synchronized (Pipe.this) {
                while (count == buf.length && broken == null) {
                  await();
                }
                if (broken != null) {
                  throw new IOException(broken.getMessage(), broken);
                }
                if (closed) {
                  throw new IOException("the archive was already ended");
                }
                int tail = (head + count) % buf.length;
                int n = Math.min(len, Math.min(buf.length - count, buf.length - tail));
                System.arraycopy(b, off, buf, tail, n);
                count += n;
                off += n;
                len -= n;
                Pipe.this.notifyAll();
              }
            }
          }

          @Override
          public void close() {
            synchronized (Pipe.this) {
              closed = true;
              Pipe.this.notifyAll();
            }
          }
        };

    /** Fails both sides, unless the writer has ended and the reader has read everything. */
    synchronized void fail(IOException why) {
      if (broken == null && !(closed && count == 0)) {
        broken = why;
        notifyAll();
      }
    }

    private void await() throws InterruptedIOException {
      try {
        wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while streaming the image");
      }
    }
  }
}
