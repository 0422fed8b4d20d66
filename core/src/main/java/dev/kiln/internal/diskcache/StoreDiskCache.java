package dev.kiln.internal.diskcache;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.base.Stopwatch;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import dev.kiln.disk.DiskBuilder;
import dev.kiln.disk.DiskCache;
import dev.kiln.disk.DiskException;
import dev.kiln.disk.DiskImage;
import dev.kiln.disk.DiskOptions;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.keys.LayerKeys;
import dev.kiln.internal.keys.StatIndex;
import dev.kiln.internal.remote.GuardedRemoteCache;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.ImageView;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The engine's {@link DiskCache}: disks in the store's {@code disks/} directory, one per (top layer
 * key, options), built base by base along {@link ImageView#bases()} so an image's disk is its
 * base's disk extended in place. Thread-safe; one process builds a given disk, others wait on its
 * lock and reuse it.
 */
public final class StoreDiskCache implements DiskCache {
  private final LocalStore store;
  private final StatIndex statIndex;
  private final Consumer<BakeEvent> events;
  private final StoredDisks disks;
  private final RemoteDisks remoteDisks;

  public StoreDiskCache(
      LocalStore store,
      StatIndex statIndex,
      Consumer<BakeEvent> events,
      GuardedRemoteCache remote,
      java.util.concurrent.Executor compressPool) {
    this.store = store;
    this.statIndex = statIndex;
    this.events = events;
    this.disks = new StoredDisks(store);
    this.remoteDisks = new RemoteDisks(store, disks, events, remote, compressPool);
  }

  @Override
  public CachedDisk disk(ImageView image, DiskOptions options) throws BakeException {
    DiskBuilder builder = builder(image, options);
    List<LayerRecord> layers = image.layers();
    if (layers.isEmpty()) {
      throw new DiskException(
          "image " + image.digest() + " has no layers: there is nothing to put on a disk");
    }
    return prefix(layers, layers.size(), boundaries(image, layers.size()), builder);
  }

  @Override
  public Optional<CachedDisk> baseDisk(ImageView image, DiskOptions options) throws BakeException {
    DiskBuilder builder = builder(image, options);
    List<LayerRecord> layers = image.layers();
    List<Integer> b = boundaries(image, layers.size());
    if (b.isEmpty()) {
      return Optional.empty();
    }
    int k = b.get(b.size() - 1);
    return Optional.of(prefix(layers, k, b.subList(0, b.size() - 1), builder));
  }

  /**
   * The builder of the image's disks: of its platform (an error for one disks are not made for).
   */
  private static DiskBuilder builder(ImageView image, DiskOptions options) throws DiskException {
    try {
      return DiskBuilder.create(options).forPlatform(image.platform());
    } catch (DiskException e) {
      throw new DiskException("image " + image.digest() + ": " + e.getMessage(), e);
    }
  }

  /**
   * What a disk's key says besides its top layer: the options, and the platform for any but
   * linux/amd64 (whose keys are those disks always had). A files-only image has the same layer keys
   * on every platform, but not the same disk.
   */
  private static String keyOptions(DiskBuilder builder) {
    String options = builder.options().toString();
    return builder.platform().equals(Platform.LINUX_AMD64)
        ? options
        : options + ";platform=" + builder.platform();
  }

  @Override
  public Digest digestOf(Path file) throws IOException {
    return statIndex.digest(file).digest();
  }

  /** The base boundaries strictly inside the image, ascending. */
  private static List<Integer> boundaries(ImageView image, int n) {
    List<Integer> out = new ArrayList<>();
    for (int b : image.bases()) {
      if (b > 0 && b < n && (out.isEmpty() || b > out.get(out.size() - 1))) {
        out.add(b);
      }
    }
    return out;
  }

  /**
   * The disk of layers[0..n): extended from the disk of the last boundary, or built from scratch
   * without one.
   */
  private CachedDisk prefix(
      List<LayerRecord> layers, int n, List<Integer> bounds, DiskBuilder builder)
      throws BakeException {
    DiskOptions options = builder.options();
    Digest layerKey = layers.get(n - 1).key();
    Digest diskKey = LayerKeys.disk(layerKey, keyOptions(builder));
    try {
      Path path = store.diskPath(diskKey);
      Optional<CachedDisk> cached = disks.read(path, diskKey);
      if (cached.isPresent()) {
        return cached.get();
      }
      if (remoteDisks.reads()) {
        // another machine may have built this disk: then neither it nor its base is built here
        try (LocalStore.StoreLock l = store.lock("disk-" + diskKey.hex())) {
          cached = disks.read(path, diskKey);
          if (cached.isEmpty()) {
            cached = remoteDisks.fetch(path, diskKey);
          }
          if (cached.isPresent()) {
            return cached.get();
          }
        }
      }
      CachedDisk base =
          bounds.isEmpty()
              ? null
              : prefix(
                  layers,
                  bounds.get(bounds.size() - 1),
                  bounds.subList(0, bounds.size() - 1),
                  builder);
      try (LocalStore.StoreLock l = store.lock("disk-" + diskKey.hex())) {
        cached = disks.read(path, diskKey);
        if (cached.isPresent()) {
          return cached.get();
        }
        Stopwatch sw = Stopwatch.createStarted();
        Path tmp = store.newTempDirectory().resolve("disk.raw");
        DiskImage built;
        if (base == null) {
          events.accept(
              new BakeEvent.Output("disk", "building the disk of " + n + " layers from scratch"));
          built = builder.build(blobs(layers, 0, n), tmp);
        } else {
          int k = bounds.get(bounds.size() - 1);
          events.accept(
              new BakeEvent.Output(
                  "disk", "extending the disk of " + k + " base layers with " + (n - k) + " more"));
          built = builder.extend(base.path(), blobs(layers, k, n), tmp);
        }
        Digest sha = new Digest(StatIndex.hash(tmp));
        ObjectNode info = StoredDisks.info(sha, layerKey, options, built);
        disks.commit(tmp, path, info);
        remoteDisks.pushLater(path, diskKey, info);
        events.accept(
            new BakeEvent.Output(
                "disk",
                "disk "
                    + sha.shortHex()
                    + " ("
                    + (built.size() >> 20)
                    + " MiB) in "
                    + sw.elapsed().toMillis()
                    + " ms"));
        return new CachedDisk(
            StoredDisks.at(path, built, built.kernel(), built.initrd()), sha, diskKey);
      }
    } catch (IOException e) {
      throw new DiskException("could not build or cache the disk: " + e.getMessage(), e);
    }
  }

  /** Waits for the disk pushes started so far (each bounded by the remote's timeouts). */
  public void awaitPushes() {
    remoteDisks.awaitPushes();
  }

  private List<Path> blobs(List<LayerRecord> layers, int from, int to) {
    List<Path> out = new ArrayList<>();
    for (LayerRecord l : layers.subList(from, to)) {
      out.add(store.blobPath(l.digest()));
    }
    return out;
  }
}
