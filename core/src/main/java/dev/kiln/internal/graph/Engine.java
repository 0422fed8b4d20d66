package dev.kiln.internal.graph;

import dev.kiln.Attestation;
import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.CacheCorruptedException;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.InvalidTargetException;
import dev.kiln.Platform;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.VerifyResult;
import dev.kiln.event.BakeEvent;
import dev.kiln.event.BakeListener;
import dev.kiln.internal.diskcache.StoreDiskCache;
import dev.kiln.internal.keys.StatIndex;
import dev.kiln.internal.registry.Registry;
import dev.kiln.internal.remote.GuardedRemoteCache;
import dev.kiln.internal.remote.RemoteLayers;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.CorruptBlobException;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.RemoteCache;
import java.io.IOException;
import java.security.PublicKey;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bakes builds: the entry of the engine. Resolves every target first, then runs the bake steps
 * ({@link StepsRunner}): resolves each build into a chain of layer nodes, fingerprints them into
 * cache keys, provisions the keys the store lacks (each key once, independent nodes in parallel,
 * across all builds of one call), assembles the OCI image in the local store, writes the image
 * record and publishes to the targets. Thread-safe.
 */
public final class Engine {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);
  private static final int ATTEMPTS = 3;

  /** One build and where to publish it. */
  public record Request(ImageBuild build, List<Target> targets) {}

  /**
   * A remote cache and how to use it: the mode, the timeout of one call (and of a transfer that
   * makes no progress), and the longest a blob transfer may take.
   */
  public record RemoteConfig(
      RemoteCache cache,
      RemoteCache.Mode mode,
      RemoteCache.Verify verify,
      Duration timeout,
      Duration transferTimeout) {}

  /**
   * The documents asked for of every image ({@code Kiln.builder().sbom(…)}) and who writes them.
   */
  public record AttestConfig(Set<Attestation.Kind> kinds, Attestor attestor) {}

  private final LocalStore store;
  private final StatIndex statIndex;
  private final Registry registry;
  private final List<BakeListener> listeners;
  private final GuardedRemoteCache remote;
  private final Services services;

  public Engine(
      LocalStore store,
      Registry registry,
      ExecutorService layerPool,
      Executor compressPool,
      List<BakeListener> listeners,
      long mtime,
      int gzipLevel,
      RemoteConfig remoteConfig,
      AttestConfig attest) {
    this.store = store;
    this.statIndex = StatIndex.load(store.statIndexFile());
    this.registry = registry;
    this.listeners = List.copyOf(listeners);
    this.remote =
        remoteConfig == null
            ? null
            : new GuardedRemoteCache(
                remoteConfig.cache(),
                remoteConfig.mode(),
                remoteConfig.timeout(),
                remoteConfig.transferTimeout(),
                this::emit);
    boolean checkDiffIds =
        remoteConfig != null && remoteConfig.verify() == RemoteCache.Verify.CONTENT;
    RemoteLayers remoteLayers =
        remote == null
            ? null
            : new RemoteLayers(remote, store, checkDiffIds, this::emit, compressPool);
    StoreDiskCache diskCache =
        new StoreDiskCache(store, statIndex, this::emit, remote, compressPool);
    store.onCorruption((d, why) -> emit(new BakeEvent.CacheCorrupted(d, why)));
    this.services =
        new Services(
            store,
            statIndex,
            registry,
            layerPool,
            compressPool,
            this::emit,
            mtime,
            gzipLevel,
            diskCache,
            remote,
            remoteLayers,
            attest);
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
    return run(requests, resolve(requests), null);
  }

  /**
   * A bake on its way ({@link #bakeEarly}): {@code named} completes once every target holds the
   * image under its name, before the image is assembled (never, when the targets do not name it
   * early); {@code result} with the bake's result, or its failure.
   */
  public record Early(CompletableFuture<Digest> named, CompletableFuture<BakeResult> result) {}

  /**
   * Bakes one request on {@code background}, letting its targets name the image as soon as they
   * hold it when every target of a one-platform build reads layers uncompressed (the Docker
   * daemon); otherwise the targets are published as {@link #bake} does, and only {@code result}
   * completes. Targets are resolved here: a malformed one throws before anything runs.
   */
  public Early bakeEarly(Request request, Executor background) {
    Map<Request, Map<String, ImageStore>> stores = resolve(List.of(request));
    Map<String, ImageStore> targets = stores.get(request);
    boolean early =
        !targets.isEmpty()
            && StepsRunner.platforms(request.build()).size() == 1
            && targets.values().stream().allMatch(ImageStore::readsUncompressedLayers);
    EarlyNaming naming = early ? new EarlyNaming(targets.keySet()) : null;
    CompletableFuture<BakeResult> result = new CompletableFuture<>();
    background.execute(
        () -> {
          try {
            result.complete(run(List.of(request), stores, naming).get(0));
          } catch (Throwable t) {
            result.completeExceptionally(t);
          }
        });
    return new Early(naming == null ? new CompletableFuture<>() : naming.whenNamed(), result);
  }

  /**
   * Resolves every target first: an unknown scheme or a malformed target fails before anything is
   * written, and so do targets that would overwrite each other.
   */
  private Map<Request, Map<String, ImageStore>> resolve(List<Request> requests) {
    Map<Request, Map<String, ImageStore>> stores = new LinkedHashMap<>();
    for (Request r : requests) {
      Map<String, ImageStore> m = new LinkedHashMap<>();
      for (Target t : r.targets()) {
        m.put(t.toString(), registry.store(t));
      }
      refuseSinglePlatformTargets(r, m);
      stores.put(r, m);
    }
    TargetConflicts.check(List.copyOf(stores.values()));
    return stores;
  }

  private List<BakeResult> run(
      List<Request> requests, Map<Request, Map<String, ImageStore>> stores, EarlyNaming early)
      throws BakeException {
    if (remote != null) {
      remote.startBake();
    }
    for (int attempt = 1; ; attempt++) {
      StepsRunner bake = new StepsRunner(services);
      try {
        return bake.run(requests, stores, early);
      } catch (BakeException e) {
        Optional<CorruptBlobException> corrupt = corruptCause(e);
        if (corrupt.isEmpty() || attempt >= ATTEMPTS) {
          throw e;
        }
        Digest d = corrupt.get().expected();
        log.warn(
            "store blob {} is corrupt ({}); evicting it and baking again",
            d,
            corrupt.get().getMessage());
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

  /**
   * Publishes an image already in the store to the targets, as the last step of a bake does ({@link
   * StoredImages}).
   */
  Map<String, PublishedImage> publish(StoredImage image, Map<String, ImageStore> targets)
      throws BakeException {
    StepsRunner bake = new StepsRunner(services);
    try {
      return bake.publish(image, targets);
    } finally {
      bake.cleanUp();
    }
  }

  /**
   * Checks the image a target names against a public key: its signature, its attestations and their
   * subjects, the SBOMs against the provenance.
   */
  public VerifyResult verify(Target target, PublicKey key) throws BakeException {
    ImageStore s = registry.store(target);
    if (!(s instanceof AttestationSink sink)) {
      throw new InvalidTargetException(
          "'"
              + target
              + "' holds no signatures Kiln can read: a registry (docker://) or an OCI layout"
              + " (oci:, oci-archive:) does");
    }
    StepsRunner run = new StepsRunner(services);
    try {
      return Verifier.check(target.toString(), run.attached(sink), key);
    } finally {
      run.cleanUp();
    }
  }

  /** A build of several platforms goes only to targets that take an image index. */
  private static void refuseSinglePlatformTargets(Request r, Map<String, ImageStore> stores) {
    List<Platform> platforms = StepsRunner.platforms(r.build());
    if (platforms.size() < 2) {
      return;
    }
    for (Map.Entry<String, ImageStore> s : stores.entrySet()) {
      if (!s.getValue().takesIndex()) {
        throw new InvalidTargetException(
            "'"
                + s.getKey()
                + "' takes an image of one platform, but the build is baked for "
                + platforms
                + ": bake it for one platform for this target (build.platforms(\"linux/arm64\"))");
      }
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
}
