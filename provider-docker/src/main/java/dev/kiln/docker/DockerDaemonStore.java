package dev.kiln.docker;

import com.github.dockerjava.api.command.InspectImageResponse;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.InvalidTargetException;
import dev.kiln.Platform;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageTars;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.IndexView;
import dev.kiln.spi.LayerInProgress;
import dev.kiln.spi.PublishContext;
import dev.kiln.spi.UncompressedLayers;
import java.io.IOException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code docker-daemon:NAME:TAG}: loads the image into a Docker engine and tags it, as {@code
 * docker load} would, with the archive streamed into the engine (no copy of the image is written).
 * The engine's image id is the config digest, so an engine that already has {@code NAME:TAG} with
 * this id is left alone ({@link #find}), one that has the image under another name only gets the
 * tag, and layers the engine already holds (below an image Kiln tagged before) are not sent again.
 * Like {@code docker build -t}, publishing moves the tag from an older image. Of a multi-platform
 * image the daemon gets the image of the platform it runs, as {@code docker pull} does. Details:
 * {@code name}, {@code imageId}, {@code bytesStreamed}, {@code layersSent}, {@code layersFromTars}
 * (layers sent from the uncompressed tars the bake kept, see {@link UncompressedLayers}), {@code
 * layersStreamed} (layers that went into the load while the bake wrote them, see {@link
 * #layerWriting}). Thread-safe.
 */
public final class DockerDaemonStore implements ImageStore {
  private static final Logger log = LoggerFactory.getLogger(DockerDaemonStore.class);
  private static final Pattern NAME =
      Pattern.compile(
          "(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");

  /** The system property that, set to {@code false}, loads images only once they are written. */
  public static final String STREAM_PROPERTY = "kiln.docker.streamLoad";

  /**
   * The system property that, set to {@code false}, keeps a streamed load open until the image is
   * assembled instead of finishing it once its layers' tars are written (for comparisons).
   */
  public static final String EARLY_PROPERTY = "kiln.docker.earlyLoad";

  private final String target;
  private final String name;
  private final String tag;
  private final Supplier<Daemon> daemon;

  /** The config of the image this store named before its publication ({@link #nameEarly}). */
  private volatile Digest namedEarly;

  /** The load started while this bake writes the image's layers, until a publication takes it. */
  private StreamedLoad pending; // guarded by this

  /** A store for a {@code docker-daemon:NAME:TAG} target on the daemon at {@code $DOCKER_HOST}. */
  public DockerDaemonStore(Target target) {
    this(target, null);
  }

  /** A store for a {@code docker-daemon:NAME:TAG} target on the daemon at {@code dockerHost}. */
  public DockerDaemonStore(Target target, URI dockerHost) {
    this.target = target.toString();
    String ref = target.toString().substring(target.scheme().length() + 1);
    int colon = ref.lastIndexOf(':');
    if (colon <= 0 || ref.indexOf('/', colon) >= 0) {
      throw new InvalidTargetException(
          "'" + target + "': expected docker-daemon:NAME:TAG, such as docker-daemon:app:1.4");
    }
    this.name = ref.substring(0, colon);
    this.tag = ref.substring(colon + 1);
    if (!NAME.matcher(name).matches()) {
      throw new InvalidTargetException(
          "'"
              + target
              + "': '"
              + name
              + "' is not an image name (lowercase letters, digits, . _ - and /)");
    }
    if (!TAG.matcher(tag).matches()) {
      throw new InvalidTargetException("'" + target + "': '" + tag + "' is not a tag");
    }
    this.daemon =
        com.google.common.base.Suppliers.memoize(
            () -> dockerHost == null ? Daemon.fromEnvironment() : Daemon.at(dockerHost));
  }

  /** {@code NAME:TAG}. */
  String reference() {
    return name + ":" + tag;
  }

  private Daemon daemon() throws ImageStoreException {
    try {
      Daemon d = daemon.get();
      d.checkReachable();
      return d;
    } catch (IllegalArgumentException e) {
      throw new ImageStoreException(target, e.getMessage(), e);
    } catch (Daemon.DaemonUnavailableException e) {
      throw new ImageStoreException(target, e.getMessage(), e);
    }
  }

  /**
   * Starts a load into the daemon, if none is pending, that takes the layer's uncompressed tar as
   * it is written ({@link StreamedLoad}); {@link #publish} completes it, and the end of the bake
   * abandons it if no publication took it. Only where the archive goes straight into the daemon's
   * unix socket ({@link Daemon#loadsDirectly}); not when the bake keeps no tars, or when the system
   * property {@value #STREAM_PROPERTY} is {@code false}.
   */
  @Override
  public void layerWriting(LayerInProgress layer, PublishContext ctx) {
    if (layer.tar().isEmpty() || "false".equalsIgnoreCase(System.getProperty(STREAM_PROPERTY))) {
      return;
    }
    try {
      if (!daemon.get().loadsDirectly()) {
        return;
      }
    } catch (RuntimeException e) {
      return; // publish reports what is wrong with the daemon
    }
    StreamedLoad load;
    boolean started = false;
    synchronized (this) {
      if (pending == null) {
        pending = StreamedLoad.start(this::streamingDaemon, reference());
        started = true;
      }
      load = pending;
      if (!load.add(layer)) {
        return; // taken or failed: publish sends the layer the usual way
      }
    }
    if (started) {
      layer.bakeEnded().whenComplete((v, t) -> abandon(load));
    }
  }

  /**
   * Hands the image to the pending load, which finishes the archive with the image's config (and no
   * name) as soon as its layers are in, so that the daemon unpacks them while the bake is still
   * compressing; {@link #publish} then names the image. Not when the system property {@value
   * #EARLY_PROPERTY} is {@code false}.
   */
  @Override
  public void imageTarsWritten(ImageTars image, PublishContext ctx) {
    if ("false".equalsIgnoreCase(System.getProperty(EARLY_PROPERTY))) {
      return;
    }
    StreamedLoad load;
    synchronized (this) {
      load = pending;
    }
    if (load != null) {
      load.imageTarsWritten(image, ctx.capability(UncompressedLayers.class).orElse(null));
      image
          .mayName()
          .toCompletableFuture()
          .thenCombine(
              load.loadedEarly(), (may, loaded) -> may && image.configDigest().equals(loaded))
          .thenAccept(
              ok -> {
                if (ok) {
                  nameEarly(image);
                }
              });
    }
  }

  /**
   * Tags the image the daemon loaded from an archive finished early, for a bake that returns once
   * its targets hold the image ({@code Kiln.bakeEarly}), and tells the bake. On failure the tag is
   * left to {@link #publish}.
   */
  private void nameEarly(ImageTars image) {
    String id = image.configDigest().toString();
    try {
      Daemon d = daemon();
      d.client().tagImageCmd(id, name, tag).withForce(true).exec();
      checkLoaded(d, id);
      namedEarly = image.configDigest();
      image.named(target);
    } catch (ImageStoreException | RuntimeException e) {
      log.debug("{}: could not name {} early: {}", target, id, e.toString());
    }
  }

  private Daemon streamingDaemon() throws IOException {
    try {
      return daemon();
    } catch (ImageStoreException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /** The bake ended: a load no publication took is aborted, so the daemon discards it. */
  private void abandon(StreamedLoad load) {
    synchronized (this) {
      if (pending == load) {
        pending = null;
      }
    }
    load.abandon(new IOException("the bake ended without publishing " + reference()));
  }

  /** Takes the pending load, if any: from now on the caller completes or aborts it. */
  private synchronized StreamedLoad takePending() {
    StreamedLoad s = pending;
    pending = null;
    return s;
  }

  @Override
  public Optional<PublishedImage> find(ImageView image, PublishContext ctx) throws BakeException {
    if (image.configDigest().equals(namedEarly)) {
      return Optional.empty(); // named by this bake's load: its publication says what went in
    }
    Daemon d = daemon();
    try {
      Optional<InspectImageResponse> have = d.image(reference());
      if (have.isPresent() && image.configDigest().toString().equals(have.get().getId())) {
        return Optional.of(published(image, 0, 0, 0, 0));
      }
      return Optional.empty();
    } catch (RuntimeException e) {
      throw failure(d, e);
    }
  }

  @Override
  public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
    StreamedLoad load = takePending();
    Daemon d;
    try {
      d = daemon();
    } catch (ImageStoreException e) {
      if (load != null) {
        load.abandon(e);
      }
      throw e;
    }
    String id = image.configDigest().toString();
    try {
      // a load finished early carries this image, or one the daemon is told apart from by id
      boolean finishedEarly = load != null && load.finishedEarly();
      if (!finishedEarly && d.image(id).isPresent()) {
        if (load != null) {
          load.abandon(new IOException("the daemon has the image already"));
          load = null;
        }
        d.client().tagImageCmd(id, name, tag).withForce(true).exec();
        return published(image, 0, 0, 0, 0);
      }
      // a load finished early asked the daemon which layers it holds already
      int present = finishedEarly ? 0 : DaemonLayers.presentPrefix(d, image, List.of(reference()));
      long total = DaemonLayers.bytes(image, present);
      long[] streamed = new long[1];
      // the layers this bake wrote go in from the uncompressed tars it kept: nothing to inflate
      AtomicInteger fromTars = new AtomicInteger();
      UncompressedLayers tars =
          ctx.capability(UncompressedLayers.class).map(t -> counting(t, fromTars)).orElse(null);
      if (load != null) {
        // the layers written by this bake are in the daemon's load already, or on their way
        StreamedLoad taken = load;
        load = null;
        try {
          StreamedLoad.Result r =
              taken.complete(
                  image,
                  reference(),
                  present,
                  tars,
                  n -> ctx.emit(new BakeEvent.BytesWritten(target, n, total)));
          Optional<StreamedLoad.Early> early = r.early();
          if (early.isEmpty() || early.get().loadedUntagged().toString().equals(id)) {
            if (early.isPresent()) {
              // loaded without a name while the blobs were compressed: named now that the image
              // is the one the bake assembled
              d.client().tagImageCmd(id, name, tag).withForce(true).exec();
              ctx.emit(new BakeEvent.BytesWritten(target, r.bytes(), r.bytes()));
            }
            checkLoaded(d, id);
            return published(
                image,
                r.bytes(),
                image.layers().size() - early.map(StreamedLoad.Early::present).orElse(present),
                fromTars.get() + r.layersFromTars(),
                r.layersStreamed(),
                early.isPresent());
          }
          // finished early with another config (a layer changed after its tar was written): the
          // daemon holds that image without a name; this one goes in the usual way
          ctx.emit(
              new BakeEvent.Warning(
                  "the daemon loaded "
                      + early.get().loadedUntagged()
                      + " while "
                      + reference()
                      + " was written, not "
                      + id
                      + "; loading it once more"));
        } catch (IOException e) {
          if (Daemon.isConnectionFailure(e)) {
            throw e;
          }
          ctx.emit(
              new BakeEvent.Warning(
                  "the load of "
                      + reference()
                      + " started while its layers were written failed ("
                      + e.getMessage()
                      + "); loading it once more"));
          fromTars.set(0);
        }
      }
      try {
        send(
            d,
            image,
            present,
            tars,
            n -> {
              streamed[0] = n;
              ctx.emit(new BakeEvent.BytesWritten(target, n, total));
            });
      } catch (DockerArchive.TarChangedException e) {
        // the daemon got no whole archive; the stored blobs are what the image is made of
        ctx.emit(
            new BakeEvent.Warning(
                e.getMessage() + "; loading " + reference() + " from the stored layers instead"));
        fromTars.set(0);
        send(d, image, present, null, n -> streamed[0] = n);
      } catch (IOException e) {
        if (present == 0 || Daemon.isConnectionFailure(e)) {
          throw e;
        }
        // the daemon lacked a layer it was thought to hold: send them all
        present = 0;
        fromTars.set(0);
        send(d, image, 0, tars, n -> streamed[0] = n);
      }
      checkLoaded(d, id);
      return published(image, streamed[0], image.layers().size() - present, fromTars.get(), 0);
    } catch (IOException e) {
      if (Daemon.isConnectionFailure(e)) {
        throw new ImageStoreException(target, d.unavailable(e).getMessage(), e);
      }
      throw new ImageStoreException(
          target,
          "could not load the image into the Docker daemon at " + d.host() + ": " + e.getMessage(),
          e);
    } catch (RuntimeException e) {
      throw failure(d, e);
    } finally {
      if (load != null) {
        load.abandon(new IOException("the publication of " + reference() + " failed"));
      }
    }
  }

  /** Checks that {@code NAME:TAG} is the image with this id after a load. */
  private void checkLoaded(Daemon d, String id) throws ImageStoreException {
    Optional<InspectImageResponse> loaded = d.image(reference());
    if (loaded.isEmpty() || !id.equals(loaded.get().getId())) {
      throw new ImageStoreException(
          target,
          "the daemon loaded the image but "
              + reference()
              + " is "
              + loaded.map(InspectImageResponse::getId).orElse("missing")
              + ", not "
              + id);
    }
  }

  /**
   * Loads the archive of {@code image} into the daemon: written straight into its socket where it
   * is reached over a unix socket, else streamed through the daemon's Java client.
   */
  private void send(
      Daemon d, ImageView image, int present, UncompressedLayers tars, LongConsumer progress)
      throws IOException {
    if (d.loadsDirectly()) {
      d.load(out -> DockerArchive.write(image, reference(), present, tars, out, progress));
    } else {
      DockerArchive.stream(image, reference(), present, tars, d::load, progress);
    }
  }

  /** The daemon loads layers uncompressed: a bake keeps the tars it writes for this store. */
  @Override
  public boolean readsUncompressedLayers() {
    return true;
  }

  /** The daemon takes a multi-platform image as the image of its own platform, as a pull does. */
  @Override
  public boolean takesIndex() {
    return true;
  }

  @Override
  public Optional<PublishedImage> findIndex(IndexView index, PublishContext ctx)
      throws BakeException {
    return find(daemonImage(index), ctx);
  }

  @Override
  public PublishedImage publishIndex(IndexView index, PublishContext ctx) throws BakeException {
    return publish(daemonImage(index), ctx);
  }

  private ImageView daemonImage(IndexView index) throws BakeException {
    Daemon d = daemon();
    Platform platform;
    try {
      platform = d.platform();
    } catch (RuntimeException e) {
      throw failure(d, e);
    }
    return index
        .image(platform)
        .orElseThrow(
            () ->
                new ImageStoreException(
                    target,
                    "the Docker daemon at "
                        + d.host()
                        + " runs "
                        + platform
                        + " images, and the build is not baked for it (it is baked for "
                        + index.images().stream().map(i -> i.platform().toString()).toList()
                        + ")"));
  }

  private ImageStoreException failure(Daemon d, RuntimeException e) {
    if (Daemon.isConnectionFailure(e)) {
      return new ImageStoreException(target, d.unavailable(e).getMessage(), e);
    }
    return new ImageStoreException(
        target, "the Docker daemon at " + d.host() + " failed: " + e.getMessage(), e);
  }

  /** {@code tars}, counting the layers it has a kept tar of. */
  private static UncompressedLayers counting(UncompressedLayers tars, AtomicInteger opened) {
    return (diffId, size) -> {
      Optional<java.io.InputStream> in = tars.open(diffId, size);
      if (in.isPresent()) {
        opened.incrementAndGet();
      }
      return in;
    };
  }

  private PublishedImage published(
      ImageView image, long bytes, int layersSent, int layersFromTars, int layersStreamed) {
    return published(image, bytes, layersSent, layersFromTars, layersStreamed, false);
  }

  private PublishedImage published(
      ImageView image,
      long bytes,
      int layersSent,
      int layersFromTars,
      int layersStreamed,
      boolean loadedEarly) {
    Map<String, String> details = new LinkedHashMap<>();
    details.put("name", reference());
    details.put("imageId", image.configDigest().toString());
    details.put("bytesStreamed", Long.toString(bytes));
    details.put("layersSent", Integer.toString(layersSent));
    details.put("layersFromTars", Integer.toString(layersFromTars));
    details.put("layersStreamed", Integer.toString(layersStreamed));
    details.put("loadedEarly", Boolean.toString(loadedEarly));
    return new PublishedImage(target, image.digest(), false, details);
  }
}
