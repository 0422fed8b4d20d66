package dev.kiln.internal.graph;

import com.google.common.base.Stopwatch;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import dev.kiln.ProvisioningException;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.keys.LayerKeys;
import dev.kiln.internal.store.KeyEntry;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerBlob;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Step 4: makes every node's layer available in the local store, each key once across all builds of
 * the bake and independent nodes in parallel: found in the store, else pulled from the remote
 * cache, else provisioned (under the key's lock, so two processes never provision one key) and
 * pushed to the remote cache in the background.
 */
final class ProvisionLayerStep {
  private final Services services;
  private final BakeScope scope;
  private final Contexts contexts;
  private final AssembleImageStep assemble;
  private final Map<Digest, CompletableFuture<LayerRecord>> byKey = new ConcurrentHashMap<>();
  private final List<String> provisioned = new CopyOnWriteArrayList<>();
  private final List<String> pulled = new CopyOnWriteArrayList<>();

  ProvisionLayerStep(
      Services services, BakeScope scope, Contexts contexts, AssembleImageStep assemble) {
    this.services = services;
    this.scope = scope;
    this.contexts = contexts;
    this.assemble = assemble;
  }

  /**
   * Starts provisioning the chain of {@code n} (parents first where a layer runs in its parent);
   * idempotent.
   */
  CompletableFuture<LayerRecord> schedule(Node n) {
    if (n == null) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<LayerRecord> existing = byKey.get(n.key);
    if (existing != null) {
      return existing;
    }
    CompletableFuture<LayerRecord> parent = schedule(n.parent);
    CompletableFuture<LayerRecord> f;
    if (n.prepared.needsParent() && services.remoteReads()) {
      // the key is known before the parent is there: look it up (locally, then remotely) at once,
      // so the layers of
      // an image are downloaded in parallel, and wait for the parent only to provision a miss
      f =
          scope
              .async(() -> provisionNode(n, false, true, true))
              .thenCompose(
                  found ->
                      found != null
                          ? CompletableFuture.completedFuture(found)
                          : parent.thenCompose(
                              p -> scope.async(() -> provisionNode(n, true, false, false))));
    } else if (n.prepared.needsParent()) {
      f = parent.thenCompose(p -> scope.async(() -> provisionNode(n, true, true, false)));
    } else {
      f = scope.async(() -> provisionNode(n, false, true, false));
    }
    CompletableFuture<LayerRecord> raced = byKey.putIfAbsent(n.key, f);
    return raced != null ? raced : f;
  }

  /** The layers of the chain of {@code top}, bottom first, once they are all there. */
  List<LayerRecord> await(Node top) throws BakeException {
    List<LayerRecord> out = new ArrayList<>();
    for (Node n = top; n != null; n = n.parent) {
      out.add(0, BakeScope.join(byKey.get(n.key)));
    }
    return out;
  }

  /** Whether this bake provisioned a layer of this name itself. */
  boolean provisioned(String name) {
    return provisioned.contains(name);
  }

  /** Whether this bake pulled a layer of this name from the remote cache. */
  boolean pulled(String name) {
    return pulled.contains(name);
  }

  /**
   * Finds the node's key in the local store, else in the remote cache, else provisions it (unless
   * {@code onlyCached}, which returns null on a miss). {@code askRemote} is false when the remote
   * was asked already.
   */
  private LayerRecord provisionNode(
      Node n, boolean withParent, boolean askRemote, boolean onlyCached) throws BakeException {
    LocalStore store = services.store();
    String name = n.layer.name();
    String kind = n.layer.kind();
    try {
      Optional<KeyEntry> hit = store.key(n.key);
      if (hit.isPresent()) {
        return cacheHit(n, hit.get());
      }
      // one process provisions a key; others wait here and then find it
      try (LocalStore.StoreLock l = store.lock("key-" + n.key.hex())) {
        hit = store.key(n.key);
        if (hit.isPresent()) {
          return cacheHit(n, hit.get());
        }
        if (askRemote && services.remoteLayers() != null) {
          hit = services.remoteLayers().pull(n.key, name, kind);
          if (hit.isPresent()) {
            pulled.add(name);
            return record(n, hit.get());
          }
        }
        if (onlyCached) {
          return null;
        }
        services.emit(new BakeEvent.LayerStarted(name, kind, n.key));
        Stopwatch sw = Stopwatch.createStarted();
        ImageView parentView = withParent ? parentImage(n.parent, n.runConfig, n.platform) : null;
        LayerBlob blob = n.prepared.provision(contexts.provisionContext(n, parentView));
        store.commitBlob(blob.file(), blob.digest());
        KeyEntry entry =
            new KeyEntry(
                new LayerRecord(
                    name,
                    kind,
                    null,
                    blob.diffId(),
                    blob.digest(),
                    store.blobSize(blob.digest()),
                    blob.uncompressedSize(),
                    LayerRecord.GZIP_LAYER,
                    n.inputs,
                    blob.metadata()));
        store.putKey(n.key, entry);
        provisioned.add(name);
        services.emit(
            new BakeEvent.LayerProvisioned(
                name, kind, n.key, blob.diffId(), blob.digest(), entry.size(), sw.elapsed()));
        push(n, entry, false);
        return record(n, entry);
      }
    } catch (IOException e) {
      throw new ProvisioningException(name, "store error: " + e.getMessage(), e);
    }
  }

  private LayerRecord cacheHit(Node n, KeyEntry hit) {
    services.emit(new BakeEvent.CacheHit(n.layer.name(), n.layer.kind(), n.key, hit.diffId()));
    push(
        n, hit,
        true); // found locally, the remote may lack it (baked before the remote was configured)
    return record(n, hit);
  }

  private void push(Node n, KeyEntry entry, boolean ifMissing) {
    if (services.remoteLayers() != null) {
      services
          .remoteLayers()
          .push(n.key, n.layer.name(), entry, ifMissing, services.layerPool())
          .ifPresent(scope::addPush);
    }
  }

  /**
   * The image a layer runs in: the layers below it, with the environment and working directory of
   * its base.
   */
  private ImageView parentImage(Node parent, ImageConfig runConfig, Platform platform)
      throws BakeException {
    if (parent == null) {
      return assemble.run(List.of(), runConfig, LayerKeys.scratch(), List.of(), platform);
    }
    return assemble.run(await(parent), runConfig, parent.key, List.of(), platform);
  }

  private static LayerRecord record(Node n, KeyEntry e) {
    return new LayerRecord(
        n.layer.name(),
        n.layer.kind(),
        n.key,
        e.diffId(),
        e.digest(),
        e.size(),
        e.uncompressedSize(),
        e.mediaType(),
        e.inputs().isEmpty() ? n.inputs : e.inputs(),
        e.metadata());
  }
}
