package dev.kiln.internal.graph;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.base.Stopwatch;
import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.CacheCorruptedException;
import dev.kiln.Digest;
import dev.kiln.FilesLayer;
import dev.kiln.ImageBuild;
import dev.kiln.ImageConfig;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.ProvisioningException;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.TarLayer;
import dev.kiln.event.BakeEvent;
import dev.kiln.event.BakeListener;
import dev.kiln.internal.hash.StatIndex;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.oci.OciImages;
import dev.kiln.internal.oci.OciLayoutReader;
import dev.kiln.internal.store.KeyEntry;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.internal.tar.CanonicalLayerWriter;
import dev.kiln.internal.tar.ChunkIndex;
import dev.kiln.spi.BaseImageProvider;
import dev.kiln.spi.CorruptBlobException;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import dev.kiln.spi.PublishContext;
import dev.kiln.spi.RemoteCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bakes builds: resolves each build into a chain of layer nodes, fingerprints them into cache keys, provisions the
 * keys the store lacks (each key once, independent nodes in parallel, across all builds of one call), assembles the
 * OCI image in the local store, writes the image record and publishes to the targets. Thread-safe.
 */
public final class Engine {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);
  private static final int ATTEMPTS = 3;

  /** One build and where to publish it. */
  public record Request(ImageBuild build, List<Target> targets) {}

  /**
   * A remote cache and how to use it: the mode, the timeout of one call (and of a transfer that makes no progress),
   * and the longest a blob transfer may take.
   */
  public record RemoteConfig(
      RemoteCache cache, RemoteCache.Mode mode, RemoteCache.Verify verify, Duration timeout, Duration transferTimeout) {}

  /** The namespace of layer entries in the remote cache: cache key hex → {@link KeyEntry} JSON. */
  static final String LAYER_NAMESPACE = "keys";

  private final LocalStore store;
  private final StatIndex statIndex;
  private final Registry registry;
  private final ExecutorService layerPool;
  private final Executor compressPool;
  private final List<BakeListener> listeners;
  private final long mtime;
  private final int gzipLevel;
  private final StoreDiskCache diskCache;
  private final GuardedRemoteCache remote;
  private final boolean checkDiffIds;

  public Engine(
      LocalStore store,
      Registry registry,
      ExecutorService layerPool,
      Executor compressPool,
      List<BakeListener> listeners,
      long mtime,
      int gzipLevel,
      RemoteConfig remoteConfig) {
    this.store = store;
    this.statIndex = StatIndex.load(store.statIndexFile());
    this.registry = registry;
    this.layerPool = layerPool;
    this.compressPool = compressPool;
    this.listeners = List.copyOf(listeners);
    this.mtime = mtime;
    this.gzipLevel = gzipLevel;
    this.remote = remoteConfig == null ? null
        : new GuardedRemoteCache(remoteConfig.cache(), remoteConfig.mode(), remoteConfig.timeout(), remoteConfig.transferTimeout(), this::emit);
    this.checkDiffIds = remoteConfig != null && remoteConfig.verify() == RemoteCache.Verify.CONTENT;
    this.diskCache = new StoreDiskCache(store, statIndex, this::emit, remote, compressPool);
    store.onCorruption((d, why) -> emit(new BakeEvent.CacheCorrupted(d, why)));
  }

  /** Closes the remote cache's connections and threads. */
  public void close() throws IOException {
    registry.close();
    if (remote != null) {
      remote.close();
    }
  }

  /** Bakes every request; builds that share layers (by cache key) provision them once. */
  public List<BakeResult> bake(List<Request> requests) throws BakeException {
    // resolve every target first: an unknown scheme or a malformed target fails before anything is written
    Map<Request, Map<String, ImageStore>> stores = new LinkedHashMap<>();
    for (Request r : requests) {
      Map<String, ImageStore> m = new LinkedHashMap<>();
      for (Target t : r.targets()) {
        m.put(t.toString(), registry.store(t));
      }
      stores.put(r, m);
    }
    TargetConflicts.check(List.copyOf(stores.values())); // targets that would overwrite each other: refused here
    if (remote != null) {
      remote.startBake();
    }
    for (int attempt = 1; ; attempt++) {
      Bake bake = new Bake();
      try {
        return bake.run(requests, stores);
      } catch (BakeException e) {
        Optional<CorruptBlobException> corrupt = corruptCause(e);
        if (corrupt.isEmpty() || attempt >= ATTEMPTS) {
          throw e;
        }
        Digest d = corrupt.get().expected();
        log.warn("store blob {} is corrupt ({}); evicting it and baking again", d, corrupt.get().getMessage());
        emit(new BakeEvent.CacheCorrupted(d, corrupt.get().getMessage()));
        try {
          store.evict(d);
        } catch (IOException io) {
          throw new CacheCorruptedException(d, "could not evict corrupt blob " + d + ": " + io);
        }
      } finally {
        bake.cleanUp();
        saveStatIndex();
        if (remote != null) {
          remote.endBake();
        }
      }
    }
  }

  /** Publishes an image already in the store to the targets, as the last step of a bake does ({@link StoredImages}). */
  Map<String, PublishedImage> publish(StoredImage image, Map<String, ImageStore> targets) throws BakeException {
    Bake bake = new Bake();
    try {
      return bake.publish(image, targets);
    } finally {
      bake.cleanUp();
    }
  }

  private static Optional<CorruptBlobException> corruptCause(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof CorruptBlobException cbe) {
        return Optional.of(cbe);
      }
      if (c instanceof CacheCorruptedException cce) {
        return Optional.of(new CorruptBlobException(cce.expected(), cce.getMessage()));
      }
    }
    return Optional.empty();
  }

  private void saveStatIndex() {
    try (LocalStore.StoreLock l = store.lock("stat")) {
      statIndex.save(store.statIndexFile(), f -> store.newTempFile(".stat"));
    } catch (IOException e) {
      log.warn("could not save the stat index: {}", e.toString());
    }
  }

  void emit(BakeEvent e) {
    for (BakeListener l : listeners) {
      try {
        l.onEvent(e);
      } catch (RuntimeException ex) {
        log.warn("listener {} failed on {}: {}", l, e, ex.toString());
      }
    }
  }

  /** A node of the layer graph: one layer on top of its parent chain. */
  private static final class Node {
    final Node parent;
    final Layer layer;
    /** The environment and working directory the image below brings, for layers that run in it. */
    final ImageConfig runConfig;
    PreparedLayer prepared;
    Digest key;
    List<Fingerprint.Input> inputs = List.of();

    Node(Node parent, Layer layer, ImageConfig runConfig) {
      this.parent = parent;
      this.layer = layer;
      this.runConfig = runConfig;
    }
  }

  /** A build resolved to its top node and the configuration its base brings. */
  private record Chain(Node top, ImageConfig baseConfig, String baseDescription, List<Integer> bases) {}

  /** The state of one bake call. */
  private final class Bake {
    private final Map<List<Object>, Node> nodes = new HashMap<>();
    private final Map<Layer, CompletableFuture<PreparedLayer>> preparing = new ConcurrentHashMap<>();
    private final Map<Digest, CompletableFuture<LayerRecord>> byKey = new ConcurrentHashMap<>();
    private final List<String> provisioned = new CopyOnWriteArrayList<>();
    private final List<String> pulled = new CopyOnWriteArrayList<>();
    private final List<CompletableFuture<Void>> pushes = new CopyOnWriteArrayList<>();
    private final List<Path> tempDirs = new CopyOnWriteArrayList<>();

    List<BakeResult> run(List<Request> requests, Map<Request, Map<String, ImageStore>> stores) throws BakeException {
      List<Chain> chains = new ArrayList<>();
      for (Request r : requests) {
        chains.add(resolve(r.build()));
      }
      prepareAll(chains);
      for (Chain c : chains) {
        keys(c.top());
      }
      for (Chain c : chains) {
        provision(c.top());
      }
      List<BakeResult> results = new ArrayList<>();
      for (int i = 0; i < requests.size(); i++) {
        Request r = requests.get(i);
        Chain c = chains.get(i);
        List<LayerRecord> layers = await(c.top());
        ImageConfig config = r.build().config().over(c.baseConfig());
        StoredImage image = assemble(layers, config, c.top() == null ? baseKey(c) : c.top().key, c.bases());
        Path record = writeRecord(image, c);
        Map<String, PublishedImage> published = publish(image, stores.get(r));
        List<String> mine = layers.stream().map(LayerRecord::name).filter(provisioned::contains).toList();
        List<String> remoteHits = layers.stream().map(LayerRecord::name).filter(pulled::contains).toList();
        results.add(new BakeResult(image.digest(), image.configDigest(), image.key(), layers, mine, published, record, remoteHits));
      }
      awaitPushes();
      diskCache.awaitPushes();
      return results;
    }

    private Digest baseKey(Chain c) {
      return new Fingerprint().put("v", "kiln.key.v1").put("base", c.baseDescription()).digest();
    }

    // ---- resolving builds into chains ----

    private Chain resolve(ImageBuild build) throws BakeException {
      Base base = build.base();
      Node top = null;
      ImageConfig baseConfig = ImageConfig.empty();
      List<Integer> bases = new ArrayList<>();
      String description;
      switch (base.kind()) {
        case SCRATCH -> description = "scratch";
        case ROOTFS -> {
          Path p = base.path().orElseThrow();
          Layer l = Files.isDirectory(p) ? Layer.files("rootfs").addTree(p, "/") : Layer.tar(p).named("rootfs");
          if (!Files.exists(p)) {
            throw new ProvisioningException("rootfs", "root file system '" + p + "' does not exist");
          }
          top = node(null, l);
          bases.add(1);
          description = "rootfs";
        }
        case OCI -> {
          OciLayoutReader.Image img;
          try {
            img = OciLayoutReader.read(base.path().orElseThrow(), base.reference().orElseThrow());
          } catch (IOException e) {
            throw new ProvisioningException("base", "cannot read OCI base: " + e.getMessage(), e);
          }
          int i = 0;
          for (OciLayoutReader.BlobLayer bl : img.layers()) {
            top = node(top, new OciBaseLayer("base-" + (i++), bl.blob(), bl.digest(), bl.diffId(), bl.mediaType()));
          }
          baseConfig = img.runtimeConfig();
          bases.add(img.layers().size());
          description = "oci " + img.manifest();
        }
        case BUILD -> {
          ImageBuild other = base.build().orElseThrow();
          Chain c = resolve(other);
          top = c.top();
          baseConfig = other.config().over(c.baseConfig());
          bases.addAll(c.bases());
          int n = depth(c.top());
          if (n > 0 && (bases.isEmpty() || bases.get(bases.size() - 1) != n)) {
            bases.add(n);
          }
          description = c.baseDescription();
        }
        case IMAGE -> {
          String ref = base.reference().orElseThrow();
          BaseImageProvider.PulledImage pulled = registry.baseImages(ref).pull(ref, keyContext(new StatDigests(statIndex)));
          OciLayoutReader.Image img;
          try {
            img = OciLayoutReader.read(pulled.layout(), pulled.tag());
          } catch (IOException e) {
            throw new ProvisioningException("base", "cannot read pulled base " + ref + ": " + e.getMessage(), e);
          }
          int i = 0;
          for (OciLayoutReader.BlobLayer bl : img.layers()) {
            top = node(top, new OciBaseLayer("base-" + (i++), bl.blob(), bl.digest(), bl.diffId(), bl.mediaType()));
          }
          baseConfig = img.runtimeConfig();
          bases.add(img.layers().size());
          description = "image " + ref + "@" + pulled.manifest();
        }
        default -> throw new IllegalStateException(base.kind().toString());
      }
      ImageConfig runConfig = runConfig(baseConfig);
      for (Layer l : build.layers()) {
        top = node(top, l, runConfig);
      }
      bases.removeIf(b -> b <= 0);
      return new Chain(top, baseConfig, description, List.copyOf(bases));
    }

    private int depth(Node n) {
      int d = 0;
      for (; n != null; n = n.parent) {
        d++;
      }
      return d;
    }

    private Node node(Node parent, Layer layer) {
      return node(parent, layer, ImageConfig.empty());
    }

    private Node node(Node parent, Layer layer, ImageConfig runConfig) {
      return nodes.computeIfAbsent(
          java.util.Arrays.asList(parent == null ? "" : parent, layer, runConfig), k -> new Node(parent, layer, runConfig));
    }

    /**
     * What of the base's configuration applies while a layer runs in it, as ENV and WORKDIR apply to a Dockerfile's
     * RUN: the environment and the working directory. Not the user (layers run as root unless they say otherwise)
     * nor the entrypoint (the runner starts its own shell).
     */
    private ImageConfig runConfig(ImageConfig base) {
      ImageConfig c = ImageConfig.empty();
      for (Map.Entry<String, String> e : base.env().entrySet()) {
        c = c.env(e.getKey(), e.getValue());
      }
      return base.workdir().isPresent() ? c.workdir(base.workdir().get()) : c;
    }

    // ---- fingerprints and keys ----

    private void prepareAll(List<Chain> chains) throws BakeException {
      List<Node> all = new ArrayList<>();
      for (Chain c : chains) {
        for (Node n = c.top(); n != null; n = n.parent) {
          all.add(n);
        }
      }
      List<CompletableFuture<PreparedLayer>> fs = new ArrayList<>();
      Map<Node, CompletableFuture<PreparedLayer>> perNode = new HashMap<>();
      for (Node n : all) {
        if (perNode.containsKey(n)) {
          continue;
        }
        Provisioner p = registry.provisioner(n.layer);
        CompletableFuture<PreparedLayer> f = preparing.computeIfAbsent(n.layer, l -> async(() -> {
          StatDigests d = new StatDigests(statIndex);
          PreparedLayer prepared = p.prepare(l, keyContext(d));
          emit(new BakeEvent.InputsHashed(l.name(), l.kind(), d.checked.get(), d.read.get(), d.bytes.get()));
          return prepared;
        }));
        perNode.put(n, f);
        fs.add(f);
      }
      for (Map.Entry<Node, CompletableFuture<PreparedLayer>> e : perNode.entrySet()) {
        e.getKey().prepared = join(e.getValue());
      }
    }

    private void keys(Node n) {
      if (n == null || n.key != null) {
        return;
      }
      keys(n.parent);
      Fingerprint layerFp = new Fingerprint();
      n.prepared.fingerprint(layerFp);
      n.inputs = layerFp.inputs();
      Fingerprint key = new Fingerprint()
          .put("v", "kiln.key.v1")
          .put("parent", n.parent == null ? "-" : n.parent.key.toString())
          .put("kind", n.layer.kind())
          .put("layer", layerFp.digest());
      if (n.prepared.needsParent() && !n.runConfig.equals(ImageConfig.empty())) {
        // what the layer runs with; keys of layers over a base without ENV or WORKDIR are unchanged
        key.put("run env", n.runConfig.env().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
        key.put("run workdir", n.runConfig.workdir().orElse(""));
      }
      n.key = key.digest();
    }

    // ---- provisioning ----

    private CompletableFuture<LayerRecord> provision(Node n) {
      if (n == null) {
        return CompletableFuture.completedFuture(null);
      }
      CompletableFuture<LayerRecord> existing = byKey.get(n.key);
      if (existing != null) {
        return existing;
      }
      CompletableFuture<LayerRecord> parent = provision(n.parent);
      CompletableFuture<LayerRecord> f;
      if (n.prepared.needsParent() && remote != null && remote.reads()) {
        // the key is known before the parent is there: look it up (locally, then remotely) at once, so the layers of
        // an image are downloaded in parallel, and wait for the parent only to provision a miss
        f = async(() -> provisionNode(n, false, true, true)).thenCompose(found -> found != null
            ? CompletableFuture.completedFuture(found)
            : parent.thenCompose(p -> async(() -> provisionNode(n, true, false, false))));
      } else if (n.prepared.needsParent()) {
        f = parent.thenCompose(p -> async(() -> provisionNode(n, true, true, false)));
      } else {
        f = async(() -> provisionNode(n, false, true, false));
      }
      CompletableFuture<LayerRecord> raced = byKey.putIfAbsent(n.key, f);
      return raced != null ? raced : f;
    }

    /**
     * Finds the node's key in the local store, else in the remote cache, else provisions it (unless
     * {@code onlyCached}, which returns null on a miss). {@code askRemote} is false when the remote was asked already.
     */
    private LayerRecord provisionNode(Node n, boolean withParent, boolean askRemote, boolean onlyCached) throws BakeException {
      String name = n.layer.name();
      String kind = n.layer.kind();
      try {
        Optional<KeyEntry> hit = store.key(n.key);
        if (hit.isPresent()) {
          emit(new BakeEvent.CacheHit(name, kind, n.key, hit.get().diffId()));
          ensurePushed(n, hit.get());
          return record(n, hit.get());
        }
        // one process provisions a key; others wait here and then find it
        try (LocalStore.StoreLock l = store.lock("key-" + n.key.hex())) {
          hit = store.key(n.key);
          if (hit.isPresent()) {
            emit(new BakeEvent.CacheHit(name, kind, n.key, hit.get().diffId()));
            ensurePushed(n, hit.get());
            return record(n, hit.get());
          }
          if (askRemote) {
            hit = fromRemote(n);
            if (hit.isPresent()) {
              return record(n, hit.get());
            }
          }
          if (onlyCached) {
            return null;
          }
          emit(new BakeEvent.LayerStarted(name, kind, n.key));
          Stopwatch sw = Stopwatch.createStarted();
          ImageView parentView = withParent ? parentImage(n.parent, n.runConfig) : null;
          LayerBlob blob = n.prepared.provision(provisionContext(n, parentView));
          store.commitBlob(blob.file(), blob.digest());
          KeyEntry entry = new KeyEntry(name, kind, blob.diffId(), blob.digest(), store.blobSize(blob.digest()), blob.uncompressedSize(), LayerRecord.GZIP_LAYER, n.inputs, blob.metadata());
          store.putKey(n.key, entry);
          provisioned.add(name);
          emit(new BakeEvent.LayerProvisioned(name, kind, n.key, blob.diffId(), blob.digest(), entry.size(), sw.elapsed()));
          push(n, entry, false);
          return record(n, entry);
        }
      } catch (IOException e) {
        throw new ProvisioningException(name, "store error: " + e.getMessage(), e);
      }
    }

    // ---- the remote cache ----

    /**
     * The layer from the remote cache: its entry, then its blob, verified against the entry's size and digest (and
     * diffID, with {@link RemoteCache.Verify#CONTENT}) before it is committed to the local store. Anything wrong is a miss (the layer is provisioned locally
     * and pushed again, which repairs the entry); an outage trips the guard.
     */
    private Optional<KeyEntry> fromRemote(Node n) throws IOException {
      if (remote == null || !remote.reads()) {
        return Optional.empty();
      }
      Stopwatch sw = Stopwatch.createStarted();
      Optional<byte[]> raw = remote.getEntry(LAYER_NAMESPACE, n.key.hex());
      if (raw.isEmpty()) {
        return Optional.empty();
      }
      KeyEntry e;
      try {
        e = KeyEntry.fromJson(Json.read(raw.get()));
      } catch (IOException | RuntimeException ex) {
        warn("remote cache " + remote.describe() + " has an unreadable entry for key " + n.key.shortHex() + " (" + ex + "); provisioning '" + n.layer.name() + "' locally");
        return Optional.empty();
      }
      Path tmp = store.newTempFile(".remote");
      String subject = "remote cache: pull " + n.layer.name();
      try {
        Optional<String> wrong = RemoteBlobs.fetchAndCheck(
            remote, e, tmp, checkDiffIds, done -> emit(new BakeEvent.BytesWritten(subject, done, e.size())), compressPool);
        if (wrong.isPresent()) {
          warn("remote cache " + remote.describe() + " served a wrong blob for layer '" + n.layer.name() + "': " + wrong.get() + "; provisioning it locally");
          return Optional.empty();
        }
        store.commitBlob(tmp, e.digest());
      } catch (java.io.FileNotFoundException ex) {
        warn("remote cache " + remote.describe() + " has an entry for layer '" + n.layer.name() + "' but not its blob " + e.digest().shortHex() + "; provisioning it locally");
        return Optional.empty();
      } catch (IOException ex) {
        log.debug("remote fetch of {} failed: {}", e.digest(), ex.toString()); // the guard reported the outage
        return Optional.empty();
      } finally {
        Files.deleteIfExists(tmp);
      }
      store.putKey(n.key, e);
      pulled.add(n.layer.name());
      emit(new BakeEvent.RemoteCacheHit(n.layer.name(), n.layer.kind(), n.key, e.digest(), e.size(), sw.elapsed()));
      return Optional.of(e);
    }

    /** A layer found locally that the remote may lack (baked before the remote was configured): pushed if missing. */
    private void ensurePushed(Node n, KeyEntry entry) {
      if (remote != null && remote.writes()) {
        push(n, entry, true);
      }
    }

    /** Writes a layer to the remote cache in the background (blob, then entry); the bake waits for it at its end. */
    private void push(Node n, KeyEntry entry, boolean ifMissing) {
      if (remote == null || !remote.writes()) {
        return;
      }
      String subject = "remote cache: push " + n.layer.name();
      pushes.add(CompletableFuture.runAsync(() -> {
        try {
          if (ifMissing) {
            Optional<Boolean> there = remote.hasEntry(LAYER_NAMESPACE, n.key.hex());
            if (there.isEmpty() || there.get() || !store.verify(entry.digest())) {
              return;
            }
          }
          Stopwatch sw = Stopwatch.createStarted();
          long sent = remote.pushBlob(entry.digest(), entry.size(), entry.mediaType(), store.blobPath(entry.digest()),
              done -> emit(new BakeEvent.BytesWritten(subject, done, entry.size())));
          remote.putEntry(LAYER_NAMESPACE, n.key.hex(), Json.bytes(entry.toJson()),
              Optional.of(new RemoteCache.BlobRef(entry.digest(), entry.size(), entry.mediaType())));
          emit(new BakeEvent.RemoteCachePushed(n.layer.name(), n.key, entry.digest(), sent, sw.elapsed()));
        } catch (IOException e) {
          log.debug("push of layer {} to the remote cache failed: {}", n.layer.name(), e.toString()); // the guard reported it
        }
      }, layerPool));
    }

    /** Waits for the pushes of this bake (each is bounded by the guard's timeouts); a failed push fails nothing. */
    private void awaitPushes() {
      for (CompletableFuture<Void> f : pushes) {
        try {
          f.get();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        } catch (ExecutionException e) {
          log.warn("a push to the remote cache failed: {}", e.getCause().toString());
        }
      }
    }

    private void warn(String message) {
      log.warn(message);
      emit(new BakeEvent.Warning(message));
    }

    private LayerRecord record(Node n, KeyEntry e) {
      return new LayerRecord(n.layer.name(), n.layer.kind(), n.key, e.diffId(), e.digest(), e.size(), e.uncompressedSize(), e.mediaType(), e.inputs().isEmpty() ? n.inputs : e.inputs(), e.metadata());
    }

    private List<LayerRecord> await(Node top) throws BakeException {
      List<LayerRecord> out = new ArrayList<>();
      for (Node n = top; n != null; n = n.parent) {
        out.add(0, join(byKey.get(n.key)));
      }
      return out;
    }

    /** The image a layer runs in: the layers below it, with the environment and working directory of its base. */
    private ImageView parentImage(Node parent, ImageConfig runConfig) throws BakeException {
      if (parent == null) {
        return assemble(List.of(), runConfig, new Fingerprint().put("v", "scratch").digest(), List.of());
      }
      return assemble(await(parent), runConfig, parent.key, List.of());
    }

    // ---- assembling, recording, publishing ----

    private StoredImage assemble(List<LayerRecord> layers, ImageConfig config, Digest key, List<Integer> bases) throws BakeException {
      try {
        byte[] cfg = OciImages.config(config, layers, mtime);
        Digest cfgDigest = store.putBlob(cfg);
        byte[] manifest = OciImages.manifest(cfgDigest, cfg.length, layers);
        Digest digest = store.putBlob(manifest);
        store.tag(digest, manifest.length, digest.hex());
        emit(new BakeEvent.ImageAssembled(digest, layers.size()));
        return new StoredImage(store, digest, manifest, cfgDigest, cfg, config, layers, key, bases);
      } catch (IOException e) {
        throw new BakeException("could not assemble the image in the store " + store.root() + ": " + e.getMessage(), e);
      }
    }

    private Path writeRecord(StoredImage image, Chain c) throws BakeException {
      ObjectNode r = Json.object();
      r.put("schema", "dev.kiln.record.v1");
      r.put("image", image.digest().toString());
      r.put("config", image.configDigest().toString());
      r.put("key", image.key().toString());
      r.put("base", c.baseDescription());
      r.put("firstBaked", Instant.now().toString());
      ArrayNode ls = r.putArray("layers");
      for (LayerRecord l : image.layers()) {
        ObjectNode o = ls.addObject();
        o.put("name", l.name()).put("kind", l.kind()).put("key", l.key().toString());
        o.put("diffId", l.diffId().toString()).put("digest", l.digest().toString()).put("size", l.size());
        if (l.uncompressedSize() >= 0) {
          o.put("uncompressedSize", l.uncompressedSize());
        }
        ArrayNode in = o.putArray("inputs");
        l.inputs().forEach(i -> in.addObject().put("name", i.name()).put("digest", i.digest().toString()));
        if (!l.metadata().isEmpty()) {
          ObjectNode md = o.putObject("metadata");
          l.metadata().forEach(md::put);
        }
      }
      try {
        return store.writeRecord(image.digest(), r);
      } catch (IOException e) {
        throw new BakeException("could not write the image record: " + e.getMessage(), e);
      }
    }

    private Map<String, PublishedImage> publish(StoredImage image, Map<String, ImageStore> targets) throws BakeException {
      Map<String, CompletableFuture<PublishedImage>> fs = new LinkedHashMap<>();
      PublishContext pc = publishContext();
      for (Map.Entry<String, ImageStore> t : targets.entrySet()) {
        fs.put(t.getKey(), async(() -> {
          Stopwatch sw = Stopwatch.createStarted();
          Optional<PublishedImage> found = t.getValue().find(image, pc);
          PublishedImage p = found.isPresent() ? found.get().asReused() : t.getValue().publish(image, pc);
          emit(new BakeEvent.ImagePublished(t.getKey(), image.digest(), p.reused(), p.details().toString(), sw.elapsed()));
          ObjectNode rec = Json.object();
          rec.put("target", t.getKey()).put("image", image.digest().toString()).put("reused", p.reused());
          rec.put("at", Instant.now().toString());
          ObjectNode d = rec.putObject("details");
          p.details().forEach(d::put);
          try {
            store.writeTargetRecord(image.digest(), t.getKey() + " " + Instant.now() + " " + System.nanoTime(), rec);
          } catch (IOException e) {
            log.warn("could not record publication to {}: {}", t.getKey(), e.toString());
          }
          return p;
        }));
      }
      Map<String, PublishedImage> out = new LinkedHashMap<>();
      for (Map.Entry<String, CompletableFuture<PublishedImage>> f : fs.entrySet()) {
        out.put(f.getKey(), join(f.getValue()));
      }
      return out;
    }

    // ---- contexts ----

    private KeyContext keyContext(FileDigests files) {
      return new KeyContext() {
        @Override
        public FileDigests files() {
          return files;
        }

        @Override
        public void emit(BakeEvent event) {
          Engine.this.emit(event);
        }

        @Override
        public Path newTempDirectory() throws IOException {
          return tempDir();
        }
      };
    }

    private ProvisionContext provisionContext(Node n, ImageView parent) {
      return new ProvisionContext() {
        @Override
        public FileDigests files() {
          return new StatDigests(statIndex);
        }

        @Override
        public void emit(BakeEvent event) {
          Engine.this.emit(event);
        }

        @Override
        public Path newTempDirectory() throws IOException {
          return tempDir();
        }

        @Override
        public LayerWriter newLayerWriter() throws IOException {
          return chunkedWriter(n, tempDir());
        }

        @Override
        public ImageView parent() {
          if (parent == null) {
            throw new IllegalStateException("layer '" + n.layer.name() + "' did not ask for its parent image (needsParent)");
          }
          return parent;
        }

        @Override
        public Executor executor() {
          return layerPool;
        }
      };
    }

    /**
     * A layer writer that copies the gzip chunks this layer shares with its previous version in this store (same kind
     * and name), and records the chunks of what it writes for the next version: after one file of a large layer
     * changes, only the chunks around it are deflated again. The blob is the same as without it.
     */
    private CanonicalLayerWriter chunkedWriter(Node n, Path tmp) {
      CanonicalLayerWriter w = new CanonicalLayerWriter(tmp, mtime, gzipLevel, compressPool);
      w = n.parent == null ? w.lowest() : w; // a hard link of the image's first layer has nothing below to link to
      String lineage = new Fingerprint().put("v", "kiln.lineage.v1").put("kind", n.layer.kind()).put("name", n.layer.name()).digest().hex();
      ChunkIndex previous = null;
      Optional<Digest> latest = store.latestBlob(lineage);
      if (latest.isPresent() && store.hasBlob(latest.get())) {
        try {
          previous = ChunkIndex.open(store.chunkIndexPath(latest.get()), store.blobPath(latest.get()));
        } catch (IOException e) {
          log.debug("no chunk index for {}: {}", latest.get(), e.toString());
        }
      }
      return w.reuseChunks(previous, (blob, chunks, copied) -> {
        store.writeAtomically(store.chunkIndexPath(blob), ChunkIndex.encode(chunks));
        store.setLatestBlob(lineage, blob);
      });
    }

    private PublishContext publishContext() {
      return new PublishContext() {
        @Override
        public void emit(BakeEvent event) {
          Engine.this.emit(event);
        }

        @Override
        public Path newTempDirectory() throws IOException {
          return tempDir();
        }

        @Override
        public Executor executor() {
          return layerPool;
        }

        @Override
        public <C> Optional<C> capability(Class<C> type) {
          if (type.isInstance(diskCache)) {
            return Optional.of(type.cast(diskCache));
          }
          if (remote != null && type == RemoteCache.class) {
            return Optional.of(type.cast(remote));
          }
          return registry.capability(type);
        }
      };
    }

    private Path tempDir() throws IOException {
      Path d = store.newTempDirectory();
      tempDirs.add(d);
      return d;
    }

    void cleanUp() {
      for (CompletableFuture<Void> f : pushes) {
        f.cancel(true); // a failed bake does not wait for its pushes (a finished one has awaited them)
      }
      for (Path d : tempDirs) {
        try (var s = Files.walk(d)) {
          s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
          log.debug("could not remove {}: {}", d, e.toString());
        }
      }
    }

    private <T> CompletableFuture<T> async(Callable<T> c) {
      return CompletableFuture.supplyAsync(() -> {
        try {
          return c.call();
        } catch (BakeException e) {
          throw new CompletionException(e);
        }
      }, layerPool);
    }
  }

  /** A step that may fail with a bake exception. */
  @FunctionalInterface
  private interface Callable<T> {
    T call() throws BakeException;
  }

  private static <T> T join(CompletableFuture<T> f) throws BakeException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BakeException("interrupted", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      while (c instanceof CompletionException && c.getCause() != null) {
        c = c.getCause();
      }
      if (c instanceof BakeException be) {
        throw be;
      }
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new BakeException(String.valueOf(c), c);
    }
  }

}
