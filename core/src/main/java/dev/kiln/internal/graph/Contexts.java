package dev.kiln.internal.graph;

import dev.kiln.Digest;
import dev.kiln.Platform;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.keys.LayerKeys;
import dev.kiln.internal.keys.StatDigests;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.internal.tar.CanonicalLayerWriter;
import dev.kiln.internal.tar.ChunkIndex;
import dev.kiln.internal.tar.GrowingBlob;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerNotes;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.OutputChecks;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.PublishContext;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.SignedDocuments;
import dev.kiln.spi.UncompressedLayers;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The contexts providers see during one bake: for keys, for provisioning a layer, for publishing an
 * image.
 */
final class Contexts {
  private static final Logger log = LoggerFactory.getLogger(Contexts.class);

  private final Services services;
  private final BakeScope scope;
  private final LayerTars tars;
  private final LayerNotesBook notes;
  private volatile Map<Digest, List<ImageStore>> storesByKey = Map.of();

  /**
   * The platform of the one image of a build of several platforms each layer is written for, by key
   * (none for layers of one platform's build, or shared by images).
   */
  private volatile Map<Digest, Platform> platformsByKey = Map.of();

  /** The diffID of each layer this bake writes with a tar preview, by key, once its tar is. */
  private final Map<Digest, CompletableFuture<Digest>> tarDiffIds = new ConcurrentHashMap<>();

  Contexts(Services services, BakeScope scope, LayerTars tars, LayerNotesBook notes) {
    this.services = services;
    this.scope = scope;
    this.tars = tars;
    this.notes = notes;
  }

  /** What every context of this bake does the same way: events and temp directories. */
  private abstract class BakeContext {
    public void emit(BakeEvent event) {
      services.emit(event);
    }

    public Path newTempDirectory() throws IOException {
      return scope.tempDir();
    }
  }

  private final class Keys extends BakeContext implements KeyContext {
    private final FileDigests files;

    Keys(FileDigests files) {
      this.files = files;
    }

    @Override
    public FileDigests files() {
      return files;
    }
  }

  private final class Provision extends BakeContext implements ProvisionContext {
    private final Node n;
    private final ImageView parent;

    Provision(Node n, ImageView parent) {
      this.n = n;
      this.parent = parent;
    }

    @Override
    public FileDigests files() {
      return new StatDigests(services.statIndex());
    }

    @Override
    public LayerWriter newLayerWriter() throws IOException {
      return chunkedWriter(n, scope.tempDir());
    }

    @Override
    public ImageView parent() {
      if (parent == null) {
        throw new IllegalStateException(
            "layer '" + n.layer.name() + "' did not ask for its parent image (needsParent)");
      }
      return parent;
    }

    @Override
    public Executor executor() {
      return services.layerPool();
    }

    @Override
    public Platform platform() {
      return n.platform;
    }
  }

  private final class Publish extends BakeContext implements PublishContext {
    @Override
    public Executor executor() {
      return services.layerPool();
    }

    @Override
    public <C> Optional<C> capability(Class<C> type) {
      if (type.isInstance(services.diskCache())) {
        return Optional.of(type.cast(services.diskCache()));
      }
      if (services.remote() != null && type == RemoteCache.class) {
        return Optional.of(type.cast(services.remote()));
      }
      if (type == UncompressedLayers.class) {
        return Optional.of(type.cast(tars));
      }
      if (type == OutputChecks.class) {
        return Optional.of(type.cast(services.store().outputChecks()));
      }
      if (type == SignedDocuments.class) {
        return Optional.of(type.cast(new StoreSignedDocuments(services.store())));
      }
      return services.registry().capability(type);
    }
  }

  KeyContext keyContext(FileDigests files) {
    return new Keys(files);
  }

  ProvisionContext provisionContext(Node n, ImageView parent) {
    return new Provision(n, parent);
  }

  PublishContext publishContext() {
    return new Publish();
  }

  /**
   * The stores each layer (by key) goes to in this bake: they see the layer's blob while it is
   * written ({@link ImageStore#layerWriting}).
   */
  void storesByKey(Map<Digest, List<ImageStore>> stores, Map<Digest, Platform> platforms) {
    this.storesByKey = Map.copyOf(stores);
    this.platformsByKey = Map.copyOf(platforms);
  }

  /**
   * Completes with the diffID of the layer of {@code key} once a writer of this bake has written
   * its whole tar, which may be before its blob is compressed; never completes for a layer this
   * bake does not write with a tar preview (kept tars, and a store that sees layers written).
   */
  CompletableFuture<Digest> tarWritten(Digest key) {
    return tarDiffIds.computeIfAbsent(key, k -> new CompletableFuture<>());
  }

  /**
   * Offers the blob being written to the stores of the layer; a store that fails here publishes the
   * usual way. The blob is released when the bake ends.
   */
  private void offer(List<ImageStore> stores, GrowingBlob blob) {
    scope.onCleanUp(blob);
    PublishContext pc = publishContext();
    for (ImageStore s : stores) {
      try {
        s.layerWriting(blob, pc);
      } catch (RuntimeException e) {
        log.warn("{} failed on layer '{}' being written: {}", s, blob.name(), e.toString());
      }
    }
  }

  /**
   * A layer writer that copies the gzip chunks this layer shares with its previous version in this
   * store (same kind and name), and records the chunks of what it writes for the next version:
   * after one file of a large layer changes, only the chunks around it are deflated again. The blob
   * is the same as without it.
   */
  private CanonicalLayerWriter chunkedWriter(Node n, Path tmp) {
    LocalStore store = services.store();
    CanonicalLayerWriter w =
        new CanonicalLayerWriter(
            tmp, services.mtime(), services.gzipLevel(), services.compressPool());
    w =
        n.parent == null
            ? w.lowest()
            : w; // a hard link of the image's first layer has nothing below to link to
    if (tars.keep()) {
      w = w.keepTar((diffId, size, tar) -> tars.put(diffId, tar));
    }
    List<ImageStore> early = storesByKey.getOrDefault(n.key, List.of());
    if (!early.isEmpty()) {
      Platform platform = platformsByKey.get(n.key);
      w =
          w.watchBlob(
              n.layer.name(),
              blob -> {
                if (platform != null) {
                  blob.platform(platform);
                }
                CompletableFuture<Digest> diffId = tarWritten(n.key);
                blob.tarWritten().thenAccept(tar -> diffId.complete(tar.diffId()));
                offer(early, blob);
              });
    }
    String kind = n.layer.kind();
    LayerNotes taker = notes.taker(kind);
    if (taker != null) {
      w = w.takeNotes(taker, (diffId, taken) -> notes.put(diffId, kind, taken));
    }
    String lineage = LayerKeys.lineage(n.layer.kind(), n.layer.name());
    ChunkIndex previous = null;
    Optional<Digest> latest = store.latestBlob(lineage);
    if (latest.isPresent() && store.hasBlob(latest.get())) {
      try {
        previous =
            ChunkIndex.open(store.chunkIndexPath(latest.get()), store.blobPath(latest.get()));
      } catch (IOException e) {
        log.debug("no chunk index for {}: {}", latest.get(), e.toString());
      }
    }
    return w.reuseChunks(
        previous,
        (blob, chunks, copied) -> {
          store.writeAtomically(store.chunkIndexPath(blob), ChunkIndex.encode(chunks));
          store.setLatestBlob(lineage, blob);
        });
  }
}
