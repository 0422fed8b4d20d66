package dev.kiln.internal.graph;

import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import dev.kiln.internal.oci.OciImages;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageTars;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Between provisioning and assembly, for the stores that read layers uncompressed: as soon as the
 * tar of every layer of an image is written (a layer found in the store, pulled or written, its
 * diffID known), computes the image's config as {@link AssembleImageStep} will write it and hands
 * it to the stores ({@link ImageStore#imageTarsWritten}), while the blobs of the layers written
 * last may still be compressing. The Docker daemon then unpacks the image while Kiln compresses.
 */
final class ImageTarsStep {
  private static final Logger log = LoggerFactory.getLogger(ImageTarsStep.class);

  private final Services services;
  private final ProvisionLayerStep provision;
  private final Contexts contexts;

  ImageTarsStep(Services services, ProvisionLayerStep provision, Contexts contexts) {
    this.services = services;
    this.provision = provision;
    this.contexts = contexts;
  }

  /**
   * Watches the layers of {@code chain}, scheduled already, and offers its image to those of {@code
   * stores} that read layers uncompressed once all their diffIDs are known; never waits.
   */
  void watch(
      Chain chain,
      ImageConfig config,
      Platform platform,
      Collection<ImageStore> stores,
      EarlyNaming early) {
    List<ImageStore> readers = stores.stream().filter(ImageStore::readsUncompressedLayers).toList();
    if (readers.isEmpty()) {
      return;
    }
    List<Node> nodes = new ArrayList<>();
    for (Node n = chain.top(); n != null; n = n.parent) {
      nodes.add(0, n);
    }
    List<CompletableFuture<Digest>> diffIds = new ArrayList<>();
    // with early naming: each layer is final once its tar is written (a files layer) or once it is
    // provisioned whole (any other: its provisioner may still check its inputs after writing)
    List<CompletableFuture<?>> finals = new ArrayList<>();
    for (Node n : nodes) {
      CompletableFuture<Digest> d = new CompletableFuture<>();
      CompletableFuture<LayerRecord> provisioned = provision.schedule(n);
      provisioned.whenComplete(
          (r, t) -> {
            if (t != null) {
              d.completeExceptionally(t);
            } else {
              d.complete(r.diffId());
            }
          });
      contexts.tarWritten(n.key).thenAccept(d::complete);
      diffIds.add(d);
      finals.add(n.prepared.finalOnceWritten() ? d : provisioned);
    }
    CompletableFuture<Boolean> mayName =
        early == null
            ? CompletableFuture.completedFuture(false)
            : CompletableFuture.allOf(finals.toArray(CompletableFuture[]::new))
                .handle((v, t) -> t == null);
    CompletableFuture.allOf(diffIds.toArray(CompletableFuture[]::new))
        .thenRun(() -> offer(nodes, diffIds, config, platform, readers, mayName, early));
  }

  private void offer(
      List<Node> nodes,
      List<CompletableFuture<Digest>> diffIds,
      ImageConfig config,
      Platform platform,
      List<ImageStore> readers,
      CompletableFuture<Boolean> mayName,
      EarlyNaming early) {
    try {
      List<OciImages.ConfigLayer> layers = new ArrayList<>();
      List<Optional<LayerRecord>> stored = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        Node n = nodes.get(i);
        Digest d = diffIds.get(i).join();
        layers.add(new OciImages.ConfigLayer(n.layer.kind(), n.layer.name(), d));
        CompletableFuture<LayerRecord> f = provision.schedule(n);
        stored.add(
            f.isDone() && !f.isCompletedExceptionally() ? Optional.of(f.join()) : Optional.empty());
      }
      byte[] cfg = OciImages.config(config, layers, platform, services.mtime());
      Tars image =
          new Tars(
              platform,
              cfg,
              Digest.of(cfg),
              layers.stream().map(OciImages.ConfigLayer::diffId).toList(),
              stored,
              mayName,
              early);
      for (ImageStore s : readers) {
        try {
          s.imageTarsWritten(image, contexts.publishContext());
        } catch (RuntimeException e) {
          log.warn("{} failed on the written tars of an image: {}", s, e.toString());
        }
      }
    } catch (RuntimeException e) {
      log.debug("the written tars of an image were not offered: {}", e.toString());
    }
  }

  private final class Tars implements ImageTars {
    private final Platform platform;
    private final byte[] config;
    private final Digest configDigest;
    private final List<Digest> diffIds;
    private final List<Optional<LayerRecord>> stored;
    private final Set<Digest> blobs;
    private final CompletableFuture<Boolean> mayName;
    private final EarlyNaming early;

    Tars(
        Platform platform,
        byte[] config,
        Digest configDigest,
        List<Digest> diffIds,
        List<Optional<LayerRecord>> stored,
        CompletableFuture<Boolean> mayName,
        EarlyNaming early) {
      this.mayName = mayName;
      this.early = early;
      this.platform = platform;
      this.config = config;
      this.configDigest = configDigest;
      this.diffIds = List.copyOf(diffIds);
      this.stored = List.copyOf(stored);
      this.blobs =
          stored.stream()
              .flatMap(Optional::stream)
              .map(LayerRecord::digest)
              .collect(Collectors.toUnmodifiableSet());
    }

    @Override
    public Platform platform() {
      return platform;
    }

    @Override
    public byte[] config() {
      return config.clone();
    }

    @Override
    public Digest configDigest() {
      return configDigest;
    }

    @Override
    public List<Digest> diffIds() {
      return diffIds;
    }

    @Override
    public List<Optional<LayerRecord>> stored() {
      return stored;
    }

    @Override
    public CompletionStage<Boolean> mayName() {
      return mayName.copy();
    }

    @Override
    public void named(String target) {
      if (early != null && mayName.getNow(false)) {
        early.named(target, configDigest);
      }
    }

    @Override
    public InputStream openBlob(Digest digest) throws IOException {
      checkOwn(digest);
      return services.store().openBlob(digest);
    }

    @Override
    public long blobSize(Digest digest) throws IOException {
      checkOwn(digest);
      return services.store().blobSize(digest);
    }

    private void checkOwn(Digest d) {
      if (!blobs.contains(d)) {
        throw new IllegalArgumentException(d + " is not a stored blob of image " + configDigest);
      }
    }
  }
}
