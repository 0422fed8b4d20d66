package dev.kiln.docker;

import dev.kiln.Digest;
import dev.kiln.Platform;
import dev.kiln.spi.ImageTars;
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
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A load into the Docker daemon started while the bake writes the image's layers, so that the
 * daemon receives a layer while Kiln writes it instead of after: {@code POST /images/load} over the
 * daemon's unix socket ({@link SocketLoad}) on a thread of its own, whose body is a docker-archive
 * whose first entries are the layers' uncompressed tars, each read from its preview ({@link
 * LayerInProgress#tar()}) as it is written, in the order the layers started, named {@code
 * streamed-N/layer.tar} (their blob digests are not known yet). {@link #complete} has the same
 * thread append what the image needs besides: the layers that were not streamed, the config, and
 * {@code manifest.json} last; or, when the bake offers the image as soon as its layers' tars are
 * written ({@link #imageTarsWritten}), the load's own thread appends that rest at once, with a
 * manifest that names no tag, and {@link #complete} only waits for the daemon's answer and says
 * which config went in (the store tags the image if it is the one assembled). The daemon unpacks
 * nothing before it has the whole archive (and checks every layer against the config's diffIDs), so
 * an archive cut off before its end loads nothing. Each streamed tar is hashed as it goes in and
 * must match the diffID its layer was written with. Whatever fails (a preview error, a mismatch,
 * the daemon's refusal, the bake ending without a publication) {@link #abort aborts} the request:
 * the connection is closed before the body's last chunk, which the daemon sees as a cut archive and
 * discards. Thread-safe.
 */
final class StreamedLoad {
  private static final Logger log = LoggerFactory.getLogger(StreamedLoad.class);

  /** Opens the daemon: may block (connecting), so it is called on the load's own thread. */
  interface DaemonSource {
    Daemon open() throws IOException;
  }

  /**
   * What went in: the archive's bytes in blob bytes (as progress counts), the layers whose tars
   * went in while they were written, the layers read from the bake's kept tars when the load was
   * finished early (else counted by the caller), and, when the load was finished early ({@link
   * #imageTarsWritten}), what it loaded ({@link Early}).
   */
  record Result(long bytes, int layersStreamed, int layersFromTars, Optional<Early> early) {}

  /**
   * A load finished early: the config digest of the image it loaded without a name (the caller tags
   * it if it is the image published, else loads that image the usual way) and how many layers, from
   * the bottom, the daemon held then.
   */
  record Early(Digest loadedUntagged, int present) {}

  /** Writes the rest of the archive and closes it; returns the progress after it. */
  private interface Rest {
    long writeTo(ArchiveTar tar) throws IOException;
  }

  private final String what;
  private final List<Streamed> layers = new ArrayList<>(); // guarded by this
  private boolean taken; // guarded by this: no more layers, a publication completes the load
  private Rest rest; // guarded by this: set by complete, written by the load's thread
  private IOException failure; // guarded by this
  private long bytes; // guarded by this
  private final CompletableFuture<Void> ended = new CompletableFuture<>();
  private final CompletableFuture<Digest> loadedEarly = new CompletableFuture<>();
  private volatile Platform daemonPlatform; // null when unknown: every layer goes in
  private volatile Daemon daemon; // once opened
  private ImageTars early; // guarded by this: offered, not yet decided on by the load's thread
  private UncompressedLayers earlyTars; // guarded by this
  private Digest earlyConfig; // guarded by this: the config the archive was finished with early
  private int earlyPresent; // guarded by this: the layers the daemon had then, from the bottom
  private int earlyStreamed; // guarded by this: the image's layers taken from streamed entries
  private final AtomicInteger earlyFromTars = new AtomicInteger();
  private final Thread thread;

  private static final class Streamed {
    final int n;
    final LayerInProgress layer;
    final LayerInProgress.Tar tar;
    Digest sent; // guarded by the load: the digest of what went in, once the whole tar did
    boolean skipped; // guarded by the load: of a platform the daemon does not take

    Streamed(int n, LayerInProgress layer, LayerInProgress.Tar tar) {
      this.n = n;
      this.layer = layer;
      this.tar = tar;
    }

    String dir() {
      return "streamed-" + n + "/";
    }

    String name() {
      return dir() + "layer.tar";
    }
  }

  private StreamedLoad(DaemonSource source, String what) {
    this.what = what;
    this.thread = new Thread(() -> run(source), "kiln-daemon-load " + what);
    thread.setDaemon(true);
  }

  /** Starts the load; {@code what} names it in the thread's name and in errors. */
  static StreamedLoad start(DaemonSource source, String what) {
    StreamedLoad s = new StreamedLoad(source, what);
    s.thread.start();
    return s;
  }

  /**
   * Puts the tar of {@code layer} into the archive after the layers added before it; false if the
   * load no longer takes layers (taken by a publication, or aborted) or the layer has no preview.
   */
  synchronized boolean add(LayerInProgress layer) {
    if (taken || failure != null || layer.tar().isEmpty()) {
      return false;
    }
    layers.add(new Streamed(layers.size(), layer, layer.tar().get()));
    notifyAll();
    return true;
  }

  /**
   * Offers the image whose layers' tars are all written: once every layer added before has gone in,
   * the load's thread finishes the archive with its config and a manifest without a name, if the
   * daemon takes the image's platform and each layer it lacks went in or is stored; else the offer
   * is dropped and {@link #complete} finishes the archive. Returns at once.
   */
  synchronized void imageTarsWritten(ImageTars image, UncompressedLayers tars) {
    if (taken || failure != null || earlyConfig != null) {
      return;
    }
    early = image;
    earlyTars = tars;
    notifyAll();
  }

  private void run(DaemonSource source) {
    try {
      Daemon d = source.open();
      daemon = d;
      daemonPlatform = platformOf(d);
      d.load(this::body);
      ended.complete(null);
      Digest config;
      synchronized (this) {
        config = earlyConfig;
      }
      loadedEarly.complete(config);
    } catch (IOException | RuntimeException | Error e) {
      abort(e);
      ended.completeExceptionally(e);
      loadedEarly.complete(null);
    }
  }

  /**
   * Completes, once the daemon has answered, with the config digest of the image it loaded from an
   * archive finished early ({@link #imageTarsWritten}); with null when the load was not finished
   * early or failed.
   */
  CompletableFuture<Digest> loadedEarly() {
    return loadedEarly;
  }

  /** The request's body: each layer as it is added and written, then the rest once given. */
  private void body(OutputStream out) throws IOException {
    ArchiveTar tar = new ArchiveTar(out);
    int next = 0;
    while (true) {
      Streamed s = null;
      ImageTars offered = null;
      Rest r;
      synchronized (this) {
        while (failure == null && rest == null && next >= layers.size() && early == null) {
          try {
            wait();
          } catch (InterruptedException e) {
            throw new InterruptedIOException("the load of " + what + " was aborted");
          }
        }
        checkNotAborted();
        if (next < layers.size()) {
          s = layers.get(next++);
        } else if (rest == null) {
          offered = early;
        }
        r = rest;
      }
      if (offered != null) {
        try {
          finishEarly(offered);
        } finally {
          synchronized (this) {
            early = null; // decided: a publication waiting for it goes on
            notifyAll();
          }
        }
        continue;
      }
      if (s != null) {
        if (takes(s)) {
          stream(tar, s);
        } else {
          synchronized (this) {
            s.skipped = true;
            notifyAll();
          }
        }
        continue;
      }
      long n = r.writeTo(tar);
      synchronized (this) {
        bytes = n;
      }
      return;
    }
  }

  /**
   * Waits until an image offered before ({@link #imageTarsWritten}) is decided on; whether the load
   * was finished with it. Then the daemon holds, or is about to hold, the image this load carries:
   * a publication completes the load ({@link #complete}) instead of asking the daemon first.
   */
  synchronized boolean finishedEarly() throws IOException {
    awaitOfferDecided();
    return earlyConfig != null;
  }

  /** Waits, holding this, until no image offered is left to decide on (or the load failed). */
  private void awaitOfferDecided() throws IOException {
    while (early != null && failure == null) {
      try {
        wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while loading " + what);
      }
    }
  }

  /**
   * Hands the rest of the archive to this thread for the image whose tars are all written, unless a
   * publication has taken the load meanwhile, the daemon takes another platform, or a layer the
   * daemon lacks did not go in and is not stored yet. Every layer added has gone in (or was
   * skipped) by now.
   */
  private void finishEarly(ImageTars image) throws IOException {
    Platform p = daemonPlatform;
    if (p != null && !p.accepts(image.platform())) {
      log.debug("{}: the daemon takes {}, not {}", what, p, image.platform());
      return;
    }
    Daemon d = daemon;
    try {
      if (d != null && d.image(image.configDigest().toString()).isPresent()) {
        log.debug("{}: the daemon holds {} already", what, image.configDigest());
        return; // the publication only tags it, and abandons this load
      }
    } catch (RuntimeException e) {
      log.debug(
          "{}: could not ask the daemon for {}: {}", what, image.configDigest(), e.toString());
      return;
    }
    Map<Digest, String> names = new LinkedHashMap<>();
    UncompressedLayers tars;
    synchronized (this) {
      for (Streamed s : layers) {
        if (s.sent != null) {
          names.putIfAbsent(s.sent, s.name());
        }
      }
      tars = earlyTars;
    }
    int present = d == null ? 0 : DaemonLayers.presentPrefix(d, image.diffIds(), List.of(what));
    if (!DockerArchive.completable(image, present, names.keySet())) {
      log.debug("{}: a layer the daemon lacks is neither streamed nor stored yet", what);
      return;
    }
    UncompressedLayers counted =
        tars == null
            ? null
            : (diffId, size) -> {
              Optional<InputStream> in = tars.open(diffId, size);
              in.ifPresent(x -> earlyFromTars.incrementAndGet());
              return in;
            };
    synchronized (this) {
      if (taken || rest != null || failure != null) {
        return;
      }
      taken = true;
      earlyConfig = image.configDigest();
      earlyPresent = present;
      earlyStreamed = (int) image.diffIds().stream().distinct().filter(names::containsKey).count();
      rest =
          t -> {
            DockerArchive.finishEarly(t, image, present, names, counted);
            log.debug(
                "{}: finished with config {} before the image was assembled",
                what,
                image.configDigest());
            return 0;
          };
    }
  }

  /**
   * Whether the daemon takes the layer: a layer of one platform's image in a bake of several goes
   * in only when the daemon runs that platform (it loads that image alone, as a pull would).
   */
  private boolean takes(Streamed s) {
    Platform p = daemonPlatform;
    return p == null || s.layer.platform().map(p::accepts).orElse(true);
  }

  /** The daemon's platform, or null when it cannot be asked (then every layer goes in). */
  private static Platform platformOf(Daemon d) {
    try {
      return d.platform();
    } catch (RuntimeException e) {
      return null;
    }
  }

  private void stream(ArchiveTar tar, Streamed s) throws IOException {
    MessageDigest sha = sha256();
    tar.directory(s.dir());
    tar.file(s.name(), s.tar.size());
    long got = 0;
    try (InputStream in = s.tar.open()) {
      byte[] buf = new byte[SocketLoad.CHUNK];
      int n;
      while ((n = in.read(buf)) > 0) {
        synchronized (this) {
          checkNotAborted();
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
    tar.closeEntry();
    Digest d = Digest.fromBytes(sha.digest());
    synchronized (this) {
      s.sent = d;
      notifyAll();
    }
  }

  private void checkNotAborted() throws IOException {
    if (failure != null) {
      throw new IOException("the load of " + what + " was aborted: " + failure.getMessage());
    }
  }

  /**
   * Completes the load with {@code image}: waits until every streamed layer is in the archive and
   * matches its diffID, has the rest appended (the layers above the lowest {@code present} that
   * were not streamed, from {@code tars} or the stored blobs; the config; the manifest), and waits
   * for the daemon's answer. On any failure the request is aborted before this throws, so the
   * daemon loads nothing from it.
   */
  Result complete(
      ImageView image, String repoTag, int present, UncompressedLayers tars, LongConsumer progress)
      throws IOException {
    List<Streamed> all;
    Digest loaded;
    int loadedPresent;
    synchronized (this) {
      // an image offered before is decided on first: it is no later than this publication
      // would be, which waits for the same layers to go in
      awaitOfferDecided();
      loaded = earlyConfig;
      loadedPresent = earlyPresent;
      if (failure != null && loaded == null) {
        throw failure;
      }
      taken = true;
      all = List.copyOf(layers);
    }
    if (loaded != null) {
      // finished with the config when the layers' tars were written: wait for the daemon's answer
      get(ended, what);
      synchronized (this) {
        long sent =
            image.configDigest().equals(loaded) ? DaemonLayers.bytes(image, loadedPresent) : 0;
        return new Result(
            sent,
            earlyStreamed,
            earlyFromTars.get(),
            Optional.of(new Early(loaded, loadedPresent)));
      }
    }
    try {
      Map<Digest, String> names = new LinkedHashMap<>();
      for (Streamed s : all) {
        if (s.layer.platform().isPresent() && !s.layer.platform().get().equals(image.platform())) {
          continue; // a layer of another platform's image: not waited for, not named
        }
        if (!s.layer.written().toCompletableFuture().isDone()) {
          // not a layer of this image (those are all written): do not wait for it
          throw new IOException("layer '" + s.layer.name() + "' is still being written");
        }
        LayerInProgress.Written w = get(s.layer.written().toCompletableFuture(), s.layer.name());
        Digest sent = awaitStreamed(s);
        if (sent == null) {
          continue; // skipped: the rest sends it
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
      synchronized (this) {
        checkNotAborted();
        rest = t -> DockerArchive.finish(t, image, repoTag, present, names, tars, progress);
        notifyAll();
      }
      get(ended, what);
      synchronized (this) {
        return new Result(
            bytes, (int) layers.stream().filter(s -> s.sent != null).count(), 0, Optional.empty());
      }
    } catch (IOException | RuntimeException e) {
      abort(e);
      awaitEnd();
      throw e;
    }
  }

  /** Waits until {@code s} is wholly in the archive, or skipped; its digest (null: skipped). */
  private synchronized Digest awaitStreamed(Streamed s) throws IOException {
    while (s.sent == null && !s.skipped) {
      if (failure != null) {
        throw failure;
      }
      try {
        wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while loading " + what);
      }
    }
    return s.sent;
  }

  /**
   * Aborts the load, unless a publication has already handed it the rest of the archive: the
   * daemon's connection is closed before the body's end, so it discards what it received.
   */
  void abandon(Throwable why) {
    synchronized (this) {
      if (rest != null) {
        return;
      }
    }
    abort(why);
  }

  private void abort(Throwable why) {
    synchronized (this) {
      if (failure != null) {
        return;
      }
      failure =
          why instanceof IOException io
              ? io
              : new IOException("the load of " + what + " failed: " + why, why);
      notifyAll();
    }
    if (Thread.currentThread() != thread) {
      thread.interrupt(); // a write blocked on the socket or a wait for the layer ends at once
    }
  }

  private void awaitEnd() {
    try {
      ended.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      // reported by whoever aborted
    }
  }

  private static <T> T get(CompletableFuture<T> f, String what) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while loading " + what);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException(what + ": " + c, c);
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }
}
