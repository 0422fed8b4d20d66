package dev.kiln.internal.diskcache;

import com.fasterxml.jackson.databind.JsonNode;
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
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.remote.GuardedRemoteCache;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.ImageView;
import java.io.IOException;
import java.nio.file.Files;
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
  private final GuardedRemoteCache remote;
  private final java.util.concurrent.Executor compressPool;
  private final List<java.util.concurrent.CompletableFuture<Void>> pushes =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  public StoreDiskCache(
      LocalStore store,
      StatIndex statIndex,
      Consumer<BakeEvent> events,
      GuardedRemoteCache remote,
      java.util.concurrent.Executor compressPool) {
    this.store = store;
    this.statIndex = statIndex;
    this.events = events;
    this.remote = remote;
    this.compressPool = compressPool;
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
      Optional<CachedDisk> cached = read(path, diskKey);
      if (cached.isPresent()) {
        return cached.get();
      }
      if (remote != null && remote.reads()) {
        // another machine may have built this disk: then neither it nor its base is built here
        try (LocalStore.StoreLock l = store.lock("disk-" + diskKey.hex())) {
          cached = read(path, diskKey);
          if (cached.isEmpty()) {
            cached = fromRemote(path, diskKey);
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
        cached = read(path, diskKey);
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
        ObjectNode info = Json.object();
        info.put("sha256", sha.toString());
        info.put("layerKey", layerKey.toString());
        info.put("options", options.toString());
        info.put("kernel", built.kernel().orElse(""));
        info.put("initrd", built.initrd().orElse(""));
        store.writeAtomically(info(path), Json.bytes(info));
        Files.deleteIfExists(
            path); // a disk without its info (a killed process) is rebuilt, never trusted
        store.commitFile(tmp, path);
        pushLater(path, diskKey, info);
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
        return new CachedDisk(withPath(built, path), sha, diskKey);
      }
    } catch (IOException e) {
      throw new DiskException("could not build or cache the disk: " + e.getMessage(), e);
    }
  }

  // ---- the remote cache ----

  /** The remote namespace of disks: disk key hex → the disk's info plus its gzip blob. */
  static final String DISK_NAMESPACE = "disks";

  /**
   * The disk from the remote cache: its gzip blob, checked against the blob digest while it
   * downloads, decompressed into a sparse file (zero blocks are holes, as the built disk has them),
   * checked against the disk's SHA-256, and committed with its info. Anything wrong is a miss; an
   * outage trips the guard.
   */
  private Optional<CachedDisk> fromRemote(Path path, Digest diskKey) throws IOException {
    Optional<byte[]> raw = remote.getEntry(DISK_NAMESPACE, diskKey.hex());
    if (raw.isEmpty()) {
      return Optional.empty();
    }
    Stopwatch sw = Stopwatch.createStarted();
    ObjectNode info;
    Digest blob;
    Digest sha;
    long blobSize;
    long size;
    try {
      info = (ObjectNode) Json.read(raw.get());
      blob = Digest.parse(info.path("blob").asText());
      sha = Digest.parse(info.path("sha256").asText());
      blobSize = info.path("blobSize").asLong();
      size = info.path("size").asLong();
    } catch (IOException | RuntimeException e) {
      warn(
          "remote cache "
              + remote.describe()
              + " has an unreadable entry for disk "
              + diskKey.shortHex()
              + ": "
              + e);
      return Optional.empty();
    }
    Path gz = store.newTempFile(".disk.gz");
    Path tmp = store.newTempDirectory().resolve("disk.raw");
    try {
      events.accept(
          new BakeEvent.Output(
              "disk",
              "downloading disk "
                  + sha.shortHex()
                  + " ("
                  + (blobSize >> 20)
                  + " MiB compressed) from the remote cache"));
      remote.fetchBlob(
          blob,
          gz,
          done ->
              events.accept(new BakeEvent.BytesWritten("remote cache: pull disk", done, blobSize)));
      if (Files.size(gz) != blobSize || !blob.equals(new Digest(StatIndex.hash(gz)))) {
        warn(
            "remote cache "
                + remote.describe()
                + " served a wrong blob for disk "
                + diskKey.shortHex()
                + "; building it locally");
        return Optional.empty();
      }
      Digest got = SparseGunzip.expand(gz, tmp, size);
      if (!got.equals(sha)) {
        warn(
            "remote cache "
                + remote.describe()
                + ": disk "
                + diskKey.shortHex()
                + " expands to "
                + got
                + ", expected "
                + sha
                + "; building it locally");
        return Optional.empty();
      }
      ObjectNode local = info.deepCopy();
      local.remove(List.of("blob", "blobSize", "size"));
      store.writeAtomically(info(path), Json.bytes(local));
      Files.deleteIfExists(path);
      store.commitFile(tmp, path);
    } catch (java.io.FileNotFoundException e) {
      warn(
          "remote cache "
              + remote.describe()
              + " has an entry for disk "
              + diskKey.shortHex()
              + " but not its blob; building it locally");
      return Optional.empty();
    } catch (IOException e) {
      return Optional.empty(); // the guard reported an outage; a local error builds the disk again
    } finally {
      Files.deleteIfExists(gz);
      Files.deleteIfExists(tmp);
    }
    events.accept(
        new BakeEvent.RemoteCacheHit("disk", "disk", diskKey, blob, blobSize, sw.elapsed()));
    return read(path, diskKey);
  }

  /**
   * Compresses a disk just built and pushes it with its entry, in the background; {@link
   * #awaitPushes} waits.
   */
  private void pushLater(Path disk, Digest diskKey, ObjectNode info) {
    if (remote == null || !remote.writes()) {
      return;
    }
    pushes.add(
        java.util.concurrent.CompletableFuture.runAsync(
            () -> {
              Path gz = store.newTempFile(".disk.gz");
              try {
                Stopwatch sw = Stopwatch.createStarted();
                long size = Files.size(disk);
                Digest blob;
                try (java.io.OutputStream out = Files.newOutputStream(gz);
                    dev.kiln.internal.tar.ParallelGzipOutputStream z =
                        new dev.kiln.internal.tar.ParallelGzipOutputStream(out, compressPool, 1)) {
                  Files.copy(disk, z);
                  z.finish();
                  blob = z.digest();
                }
                long blobSize = Files.size(gz);
                long sent =
                    remote.pushBlob(
                        blob,
                        blobSize,
                        DISK_MEDIA_TYPE,
                        gz,
                        done ->
                            events.accept(
                                new BakeEvent.BytesWritten(
                                    "remote cache: push disk", done, blobSize)));
                ObjectNode entry = info.deepCopy();
                entry.put("blob", blob.toString()).put("blobSize", blobSize).put("size", size);
                remote.putEntry(
                    DISK_NAMESPACE,
                    diskKey.hex(),
                    Json.bytes(entry),
                    Optional.of(
                        new dev.kiln.spi.RemoteCache.BlobRef(blob, blobSize, DISK_MEDIA_TYPE)));
                events.accept(
                    new BakeEvent.RemoteCachePushed("disk", diskKey, blob, sent, sw.elapsed()));
              } catch (IOException e) {
                org.slf4j.LoggerFactory.getLogger(StoreDiskCache.class)
                    .debug("push of disk {} failed: {}", diskKey, e.toString());
              } finally {
                try {
                  Files.deleteIfExists(gz);
                } catch (IOException e) {
                  // swept with the session
                }
              }
            },
            compressPool));
  }

  /** The media type of a gzip-compressed raw disk in the remote cache. */
  static final String DISK_MEDIA_TYPE = "application/vnd.dev.kiln.disk.raw.v1+gzip";

  /** Waits for the disk pushes started so far (each bounded by the remote's timeouts). */
  public void awaitPushes() {
    for (java.util.concurrent.CompletableFuture<Void> f : pushes) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (java.util.concurrent.ExecutionException e) {
        // logged where it failed
      }
    }
    pushes.removeIf(java.util.concurrent.CompletableFuture::isDone);
  }

  private void warn(String message) {
    org.slf4j.LoggerFactory.getLogger(StoreDiskCache.class).warn(message);
    events.accept(new BakeEvent.Warning(message));
  }

  private List<Path> blobs(List<LayerRecord> layers, int from, int to) {
    List<Path> out = new ArrayList<>();
    for (LayerRecord l : layers.subList(from, to)) {
      out.add(store.blobPath(l.digest()));
    }
    return out;
  }

  private static Path info(Path disk) {
    return disk.resolveSibling(disk.getFileName().toString().replace(".raw", ".json"));
  }

  private Optional<CachedDisk> read(Path path, Digest diskKey) throws IOException {
    if (!Files.isRegularFile(path) || !Files.isRegularFile(info(path))) {
      return Optional.empty();
    }
    JsonNode info;
    DiskImage d;
    try {
      info = Json.read(Files.readAllBytes(info(path)));
      d = DiskImage.read(path);
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // a half-written entry from a killed process: built again
    }
    String kernel = info.path("kernel").asText("");
    String initrd = info.path("initrd").asText("");
    DiskImage withBoot =
        new DiskImage(
            d.path(),
            d.size(),
            d.diskGuid(),
            d.espPartition(),
            d.rootPartition(),
            d.fsUuid(),
            d.espOffset(),
            d.espSize(),
            d.rootOffset(),
            d.rootSize(),
            kernel.isEmpty() ? Optional.empty() : Optional.of(kernel),
            initrd.isEmpty() ? Optional.empty() : Optional.of(initrd));
    return Optional.of(
        new CachedDisk(withBoot, Digest.parse(info.path("sha256").asText()), diskKey));
  }

  private static DiskImage withPath(DiskImage d, Path path) {
    return new DiskImage(
        path,
        d.size(),
        d.diskGuid(),
        d.espPartition(),
        d.rootPartition(),
        d.fsUuid(),
        d.espOffset(),
        d.espSize(),
        d.rootOffset(),
        d.rootSize(),
        d.kernel(),
        d.initrd());
  }
}
