package dev.kiln.internal.graph;

import dev.kiln.event.BakeEvent;
import dev.kiln.internal.diskcache.StoreDiskCache;
import dev.kiln.internal.keys.StatIndex;
import dev.kiln.internal.registry.Registry;
import dev.kiln.internal.remote.GuardedRemoteCache;
import dev.kiln.internal.remote.RemoteLayers;
import dev.kiln.internal.store.LocalStore;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the steps of every bake of one engine share: the store and its stat index, the providers,
 * the pools, the caches (remote ones null when none is configured), the fixed mtime and gzip level,
 * where events go, and the documents written of every image (null when none is asked for).
 */
record Services(
    LocalStore store,
    StatIndex statIndex,
    Registry registry,
    ExecutorService layerPool,
    Executor compressPool,
    Consumer<BakeEvent> events,
    long mtime,
    int gzipLevel,
    StoreDiskCache diskCache,
    GuardedRemoteCache remote,
    RemoteLayers remoteLayers,
    Engine.AttestConfig attest) {
  private static final Logger log = LoggerFactory.getLogger(Services.class);

  void emit(BakeEvent e) {
    events.accept(e);
  }

  /** Whether layers are looked up in a remote cache now. */
  boolean remoteReads() {
    return remoteLayers != null && remoteLayers.reads();
  }

  void warn(String message) {
    log.warn(message);
    emit(new BakeEvent.Warning(message));
  }
}
