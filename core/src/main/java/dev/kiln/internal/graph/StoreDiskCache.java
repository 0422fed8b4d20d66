package dev.kiln.internal.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.base.Stopwatch;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.disk.DiskBuilder;
import dev.kiln.disk.DiskCache;
import dev.kiln.disk.DiskException;
import dev.kiln.disk.DiskImage;
import dev.kiln.disk.DiskOptions;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.hash.StatIndex;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.ImageView;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The engine's {@link DiskCache}: disks in the store's {@code disks/} directory, one per (top layer key, options),
 * built base by base along {@link ImageView#bases()} so an image's disk is its base's disk extended in place.
 * Thread-safe; one process builds a given disk, others wait on its lock and reuse it.
 */
final class StoreDiskCache implements DiskCache {
  private final LocalStore store;
  private final StatIndex statIndex;
  private final Consumer<BakeEvent> events;
  private final GuardedRemoteCache remote;
  private final java.util.concurrent.Executor compressPool;

  StoreDiskCache(LocalStore store, StatIndex statIndex, Consumer<BakeEvent> events, GuardedRemoteCache remote, java.util.concurrent.Executor compressPool) {
    this.store = store;
    this.statIndex = statIndex;
    this.events = events;
    this.remote = remote;
    this.compressPool = compressPool;
  }

  @Override
  public CachedDisk disk(ImageView image, DiskOptions options) throws BakeException {
    List<LayerRecord> layers = image.layers();
    if (layers.isEmpty()) {
      throw new DiskException("image " + image.digest() + " has no layers: there is nothing to put on a disk");
    }
    return prefix(layers, layers.size(), boundaries(image, layers.size()), options);
  }

  @Override
  public Optional<CachedDisk> baseDisk(ImageView image, DiskOptions options) throws BakeException {
    List<LayerRecord> layers = image.layers();
    List<Integer> b = boundaries(image, layers.size());
    if (b.isEmpty()) {
      return Optional.empty();
    }
    int k = b.get(b.size() - 1);
    return Optional.of(prefix(layers, k, b.subList(0, b.size() - 1), options));
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

  /** The disk of layers[0..n): extended from the disk of the last boundary, or built from scratch without one. */
  private CachedDisk prefix(List<LayerRecord> layers, int n, List<Integer> bounds, DiskOptions options) throws BakeException {
    Digest layerKey = layers.get(n - 1).key();
    Digest diskKey = new Fingerprint().put("v", "kiln.disk.v1").put("layers", layerKey).put("options", options.toString()).digest();
    try {
      Path path = store.diskPath(diskKey);
      Optional<CachedDisk> cached = read(path, diskKey);
      if (cached.isPresent()) {
        return cached.get();
      }
      CachedDisk base = bounds.isEmpty() ? null : prefix(layers, bounds.get(bounds.size() - 1), bounds.subList(0, bounds.size() - 1), options);
      try (LocalStore.StoreLock l = store.lock("disk-" + diskKey.hex())) {
        cached = read(path, diskKey);
        if (cached.isPresent()) {
          return cached.get();
        }
        Stopwatch sw = Stopwatch.createStarted();
        Path tmp = store.newTempDirectory().resolve("disk.raw");
        DiskBuilder builder = DiskBuilder.create(options);
        DiskImage built;
        if (base == null) {
          events.accept(new BakeEvent.Output("disk", "building the disk of " + n + " layers from scratch"));
          built = builder.build(blobs(layers, 0, n), tmp);
        } else {
          int k = bounds.get(bounds.size() - 1);
          events.accept(new BakeEvent.Output("disk", "extending the disk of " + k + " base layers with " + (n - k) + " more"));
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
        Files.deleteIfExists(path); // a disk without its info (a killed process) is rebuilt, never trusted
        store.commitFile(tmp, path);
        events.accept(new BakeEvent.Output("disk", "disk " + sha.shortHex() + " (" + (built.size() >> 20) + " MiB) in " + sw.elapsed().toMillis() + " ms"));
        return new CachedDisk(withPath(built, path), sha, diskKey);
      }
    } catch (IOException e) {
      throw new DiskException("could not build or cache the disk: " + e.getMessage(), e);
    }
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
    DiskImage withBoot = new DiskImage(d.path(), d.size(), d.diskGuid(), d.espPartition(), d.rootPartition(), d.fsUuid(),
        d.espOffset(), d.espSize(), d.rootOffset(), d.rootSize(),
        kernel.isEmpty() ? Optional.empty() : Optional.of(kernel), initrd.isEmpty() ? Optional.empty() : Optional.of(initrd));
    return Optional.of(new CachedDisk(withBoot, Digest.parse(info.path("sha256").asText()), diskKey));
  }

  private static DiskImage withPath(DiskImage d, Path path) {
    return new DiskImage(path, d.size(), d.diskGuid(), d.espPartition(), d.rootPartition(), d.fsUuid(), d.espOffset(),
        d.espSize(), d.rootOffset(), d.rootSize(), d.kernel(), d.initrd());
  }
}
