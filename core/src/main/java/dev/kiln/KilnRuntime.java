package dev.kiln;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import dev.kiln.event.BakeEvent;
import dev.kiln.event.BakeListener;
import dev.kiln.internal.graph.BakeFailures;
import dev.kiln.internal.graph.Engine;
import dev.kiln.internal.graph.StoredImages;
import dev.kiln.internal.registry.Registry;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.RemoteCache;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What one {@link Kiln} owns and does: the local store, the executors it created, the engine and
 * the images stored in it. Opened from a builder's settings and closed once; every call refuses a
 * closed Kiln first. Thread-safe.
 */
final class KilnRuntime {
  private final LocalStore store;
  private final Engine engine;
  private final StoredImages stored;
  private final ExecutorService ownLayerPool;
  private final ExecutorService compressPool;

  /** Runs the bakes that return early ({@link #bakeEarly}). */
  private final ExecutorService background = Executors.newCachedThreadPool(daemon("kiln-bake-%d"));

  /** The bakes that returned early and are still running: {@link #close} waits for them. */
  private final Set<CompletableFuture<BakeResult>> running = ConcurrentHashMap.newKeySet();

  private final AtomicBoolean closed = new AtomicBoolean();
  private final RemoteCache remoteCache;
  private final RemoteCache.Mode remoteMode;
  private final List<BakeListener> listeners;
  private final GcPolicy autoGc;
  private final Duration autoGcInterval;

  KilnRuntime(KilnSettings s) throws IOException {
    this.remoteCache = s.remoteCache;
    this.remoteMode = s.remoteMode;
    // what can refuse the settings comes first, so that a refusal leaves nothing open
    Engine.AttestConfig attest = attesting(s);
    Registry registry =
        new Registry(s.provisioners, s.stores, s.capabilities, Kiln.class.getClassLoader());
    Engine.RemoteConfig remote = null;
    if (s.remoteCache != null) {
      remote =
          new Engine.RemoteConfig(
              s.remoteCache,
              s.remoteMode,
              s.remoteVerify,
              s.remoteTimeout,
              s.remoteTransferTimeout);
    }
    this.store = LocalStore.open(s.store != null ? s.store : Kiln.defaultStorePath());
    this.listeners = List.copyOf(s.listeners);
    this.autoGc = s.gc;
    this.autoGcInterval = s.gcSet ? Duration.ofHours(1) : Duration.ofDays(1);
    boolean serial = s.serial || KilnEnvironment.serialProperty();
    int cores = serial ? 1 : Math.max(1, Runtime.getRuntime().availableProcessors());
    this.compressPool = Executors.newFixedThreadPool(cores, daemon("kiln-compress-%d"));
    ExecutorService layers = s.executor;
    if (layers == null) {
      layers =
          serial
              ? Executors.newSingleThreadExecutor(daemon("kiln-layer-%d"))
              : Executors.newCachedThreadPool(daemon("kiln-layer-%d"));
      this.ownLayerPool = layers;
    } else {
      this.ownLayerPool = null;
    }
    try {
      if (s.watchFileSystem && KilnEnvironment.watchProperty()) {
        registry.watchTrees();
      }
      this.engine =
          new Engine(
              store,
              registry,
              layers,
              compressPool,
              s.listeners,
              s.sourceDateEpoch,
              s.compressionLevel,
              remote,
              attest);
      this.stored = new StoredImages(store, registry, engine);
    } catch (RuntimeException | Error e) {
      // a Kiln that does not open closes what it opened: its store session, its threads
      if (ownLayerPool != null) {
        ownLayerPool.shutdownNow();
      }
      compressPool.shutdownNow();
      registry.close();
      try {
        store.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /**
   * The documents asked for and who writes them: the builder's attestor, else the first one on the
   * class path; null when none is asked for.
   */
  private static Engine.AttestConfig attesting(KilnSettings s) {
    if (s.attest.isEmpty()) {
      return null;
    }
    Attestor a = s.attestor;
    if (a == null) {
      a =
          ServiceLoader.load(Attestor.class, Kiln.class.getClassLoader())
              .findFirst()
              .orElseThrow(
                  () ->
                      new IllegalStateException(
                          "Kiln.builder() asks for "
                              + s.attest
                              + " but no dev.kiln.spi.Attestor is on the class path: add the"
                              + " dev.kiln:kiln-sbom module, or give one to"
                              + " Kiln.builder().attestor(…)"));
    }
    return new Engine.AttestConfig(Set.copyOf(s.attest), a);
  }

  private static ThreadFactory daemon(String name) {
    return new ThreadFactoryBuilder().setNameFormat(name).setDaemon(true).build();
  }

  Path store() {
    return store.root();
  }

  BakeResult bake(ImageBuild build, Target[] targets) throws BakeException {
    checkOpen();
    BakeResult r;
    try (LocalStore.StoreLock u = store.use()) {
      r = engine.bake(List.of(new Engine.Request(build, List.of(targets)))).get(0);
    } catch (IOException e) {
      throw new IllegalStateException(e); // ending a use throws nothing
    }
    collectIfDue();
    return r;
  }

  /**
   * Bakes on a thread of this Kiln and returns once every target holds the image ({@link
   * Engine#bakeEarly}), or once the bake ended; {@link #close} waits for what is still running.
   */
  EarlyBake bakeEarly(ImageBuild build, Target[] targets) throws BakeException {
    checkOpen();
    LocalStore.StoreLock use = store.use();
    Engine.Early e;
    try {
      e = engine.bakeEarly(new Engine.Request(build, List.of(targets)), background);
    } catch (java.util.concurrent.RejectedExecutionException t) {
      endUse(use);
      checkOpen(); // closed meanwhile
      throw t;
    } catch (RuntimeException | Error t) {
      endUse(use);
      throw t;
    }
    CompletableFuture<BakeResult> result =
        e.result()
            .whenComplete(
                (r, t) -> {
                  endUse(use);
                  if (t == null) {
                    collectIfDue();
                  }
                });
    running.add(result);
    result.whenComplete((r, t) -> running.remove(result));
    try {
      CompletableFuture.anyOf(e.named(), result).get();
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new BakeException(
          "interrupted while waiting for the targets of the bake; it goes on until close()", ie);
    } catch (ExecutionException ex) {
      // the bake failed before its targets held the image
      throw BakeFailures.unwrap(ex.getCause());
    }
    List<String> names = Arrays.stream(targets).map(Target::toString).toList();
    if (e.named().isDone()) {
      return new EarlyBake(e.named().join(), names, result, true);
    }
    BakeResult r = result.join();
    return new EarlyBake(r.configDigest(), names, result, false);
  }

  private static void endUse(LocalStore.StoreLock use) {
    try {
      use.close();
    } catch (IOException e) {
      throw new IllegalStateException(e); // ending a use throws nothing
    }
  }

  List<BakeResult> bakeAll(Map<ImageBuild, List<String>> builds) throws BakeException {
    checkOpen();
    List<Engine.Request> reqs = new ArrayList<>();
    for (Map.Entry<ImageBuild, List<String>> e : builds.entrySet()) {
      reqs.add(new Engine.Request(e.getKey(), e.getValue().stream().map(Target::parse).toList()));
    }
    List<BakeResult> r;
    try (LocalStore.StoreLock u = store.use()) {
      r = engine.bake(reqs);
    } catch (IOException e) {
      throw new IllegalStateException(e); // ending a use throws nothing
    }
    collectIfDue();
    return r;
  }

  RetentionReport gc(GcPolicy policy) throws BakeException {
    checkOpen();
    try {
      RetentionReport r = store.gc(policy);
      emit(new BakeEvent.GarbageCollected(r));
      return r;
    } catch (IOException e) {
      throw new BakeException(
          "garbage collection of the store at " + store.root() + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * The automatic collection after a bake: when the store holds more than the policy's {@code
   * maxBytes}, or, for its other limits, when no collection of this store ran for {@link
   * #autoGcInterval}. It never fails the bake.
   */
  private void collectIfDue() {
    if (!autoGc.enabled() || "false".equalsIgnoreCase(System.getProperty(GcPolicy.PROPERTY))) {
      return;
    }
    try {
      boolean due = autoGc.maxBytes().isPresent() && store.size() > autoGc.maxBytes().getAsLong();
      if (!due && autoGc.unusedFor().isPresent()) {
        due = store.periodicGcDue(autoGcInterval);
      }
      if (due) {
        gc(autoGc);
      }
    } catch (IOException | BakeException | RuntimeException e) {
      emit(
          new BakeEvent.Warning(
              "garbage collection of the store at " + store.root() + " failed: " + e.getMessage()));
    }
  }

  private void emit(BakeEvent e) {
    for (BakeListener l : listeners) {
      try {
        l.onEvent(e);
      } catch (RuntimeException ex) {
        // a failing listener does not stop the others
      }
    }
  }

  Map<String, PublishedImage> publish(Digest image, String[] targets) throws BakeException {
    checkOpen();
    try (LocalStore.StoreLock u = store.use()) {
      return stored.publish(
          Objects.requireNonNull(image, "image"),
          Arrays.stream(targets).map(Target::parse).toList());
    } catch (IOException e) {
      throw new IllegalStateException(e); // ending a use throws nothing
    }
  }

  Digest importImage(Path layout, String tag) throws BakeException {
    checkOpen();
    try (LocalStore.StoreLock u = store.use()) {
      return stored.importImage(
          Objects.requireNonNull(layout, "layout"), Objects.requireNonNull(tag, "tag"));
    } catch (IOException e) {
      throw new IllegalStateException(e); // ending a use throws nothing
    }
  }

  VerifyResult verify(String target, java.security.PublicKey key) throws BakeException {
    checkOpen();
    return engine.verify(Target.parse(target), Objects.requireNonNull(key, "key"));
  }

  void tag(Digest image, String name) throws BakeException {
    checkOpen();
    try (LocalStore.StoreLock u = store.use()) {
      stored.tag(Objects.requireNonNull(image, "image"), name);
    } catch (IOException e) {
      throw new IllegalStateException(e); // ending a use throws nothing
    }
  }

  RetentionReport retainRemoteCache(RemoteCache.Retention policy) throws IOException {
    checkOpen();
    Objects.requireNonNull(policy, "policy");
    if (remoteCache == null) {
      throw new IllegalStateException(
          "this Kiln has no remote cache: build it with Kiln.builder().remoteCache(uri)");
    }
    if (!policy.dryRun() && !remoteMode.writes()) {
      throw new IllegalStateException(
          "remote cache "
              + remoteCache.describe()
              + " is used read-only here: retention deletes, so run it where the cache is"
              + " written, or as a dry run");
    }
    return remoteCache.retain(policy);
  }

  boolean isClosed() {
    return closed.get();
  }

  void checkOpen() {
    if (closed.get()) {
      throw new IllegalStateException(
          "this Kiln is closed (store "
              + store.root()
              + "): bake with an open one, such as "
              + "a new Kiln.builder().build() or Kiln.defaults()");
    }
  }

  /**
   * Waits for the bakes still catching up ({@link #bakeEarly}), shuts the executors Kiln created
   * down, then closes the engine and the store; once.
   */
  void close() throws IOException {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (CompletableFuture<BakeResult> f : List.copyOf(running)) {
      try {
        f.handle((r, t) -> null).join();
      } catch (RuntimeException e) {
        // its failure is its caller's to see
      }
    }
    background.shutdownNow();
    if (ownLayerPool != null) {
      ownLayerPool.shutdownNow();
    }
    compressPool.shutdownNow();
    try {
      engine.close();
    } finally {
      store.close();
    }
  }
}
