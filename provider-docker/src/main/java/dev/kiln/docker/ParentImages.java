package dev.kiln.docker;

import com.github.dockerjava.api.command.InspectImageResponse;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.NotFoundException;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.spi.ImageView;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The images below run layers, loaded into the daemon once per parent digest and tagged {@code
 * kiln-parent/<digest hex>:latest}, so that every container of the same parent starts at once.
 * Layers the daemon already holds (found through the images Kiln tagged before) are left out of the
 * stream.
 *
 * <p>An image loaded here stays provisional until a layer on it succeeds; if the last user of a
 * provisional image fails, the image is removed again, so a failed bake leaves the daemon as it
 * found it. With {@code keep == false} every parent image this process loaded is removed once no
 * layer uses it. Thread-safe; one instance per daemon.
 */
final class ParentImages {
  static final String REPOSITORY = "kiln-parent/";
  private static final Logger log = LoggerFactory.getLogger(ParentImages.class);
  private static final Map<String, ParentImages> BY_DAEMON = new ConcurrentHashMap<>();

  private final Daemon daemon;
  private final Map<Digest, Entry> entries = new ConcurrentHashMap<>();

  private static final class Entry {
    int users;
    boolean loadedHere;
    boolean provisional;
  }

  private ParentImages(Daemon daemon) {
    this.daemon = daemon;
  }

  static ParentImages of(Daemon daemon) {
    return BY_DAEMON.computeIfAbsent(daemon.host().toString(), k -> new ParentImages(daemon));
  }

  static String tag(ImageView image) {
    return REPOSITORY + image.digest().hex() + ":latest";
  }

  /** A use of a parent image; release it when the container is gone. */
  final class Lease implements AutoCloseable {
    private final ImageView image;
    private final boolean keep;
    private boolean succeeded;
    private boolean closed;

    private Lease(ImageView image, boolean keep) {
      this.image = image;
      this.keep = keep;
    }

    /** The reference to create containers from (the image id, which is the config digest). */
    String imageId() {
      return image.configDigest().toString();
    }

    /** Marks the layer built on this parent as provisioned: the image is kept (if {@code keep}). */
    void succeeded() {
      succeeded = true;
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        release(image, succeeded, keep);
      }
    }
  }

  /** Makes sure the daemon has {@code image}, loading it if needed, and leases it. */
  Lease acquire(ImageView image, boolean keep) throws IOException {
    Entry e = entries.computeIfAbsent(image.digest(), d -> new Entry());
    synchronized (e) {
      Optional<InspectImageResponse> have = daemon.image(image.configDigest().toString());
      if (have.isEmpty()) {
        int present = presentLayers(image);
        log.debug(
            "loading parent image {} into the daemon ({} of {} layers already there)",
            image.digest(),
            present,
            image.layers().size());
        DockerArchive.stream(image, tag(image), present, daemon::load, n -> {});
        e.loadedHere = true;
        e.provisional = true;
      } else if (have.get().getRepoTags() == null
          || !have.get().getRepoTags().contains(tag(image))) {
        try {
          daemon
              .client()
              .tagImageCmd(
                  image.configDigest().toString(), REPOSITORY + image.digest().hex(), "latest")
              .exec();
        } catch (RuntimeException ex) {
          log.debug("could not tag {}: {}", image.digest(), ex.toString());
        }
      }
      e.users++;
    }
    return new Lease(image, keep);
  }

  private void release(ImageView image, boolean succeeded, boolean keep) {
    Entry e = entries.get(image.digest());
    if (e == null) {
      return;
    }
    synchronized (e) {
      e.users--;
      if (succeeded) {
        e.provisional = false;
      }
      if (e.users > 0 || !e.loadedHere) {
        return;
      }
      if (e.provisional || !keep) {
        remove(image);
        e.loadedHere = false;
        e.provisional = false;
      }
    }
  }

  private void remove(ImageView image) {
    try {
      daemon.client().removeImageCmd(tag(image)).withNoPrune(false).exec();
    } catch (NotFoundException | ConflictException ex) {
      log.debug("parent image {} not removed: {}", image.digest(), ex.getMessage());
    } catch (RuntimeException ex) {
      log.warn("could not remove parent image {}: {}", tag(image), ex.toString());
    }
  }

  /**
   * How many of the image's lowest layers the daemon certainly holds: the longest prefix of its
   * diffIDs shared with an image Kiln tagged before (a parent image or a published one). The daemon
   * keys layers by chain, so a shared prefix means those layers are there.
   */
  int presentLayers(ImageView image) {
    return DaemonLayers.presentPrefix(daemon, image, List.of());
  }

  static List<String> diffIds(ImageView image) {
    return image.layers().stream().map(LayerRecord::diffId).map(Digest::toString).toList();
  }
}
