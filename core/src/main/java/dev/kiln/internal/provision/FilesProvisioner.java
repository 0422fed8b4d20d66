package dev.kiln.internal.provision;

import dev.kiln.BakeException;
import dev.kiln.FilesLayer;
import dev.kiln.Layer;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.Provisioner;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Provisions {@code files} layers: walks the declared sources once, hashes their content through
 * the stat index (unchanged files are not read), and on a cache miss writes them through the
 * canonical layer writer. Pure Java, no daemon. Thread-safe.
 *
 * <p>With {@link #watchTrees()}, a layer prepared a second time by the same instance has its trees
 * watched (see {@link TreeWatcher}) and its walk ({@link FilesWalk}) retained: from then on, when
 * no watched directory reported a change and every declared source still has the same {@code
 * lstat}, the retained walk is the answer and nothing is walked or hashed. A one-off bake never
 * pays for watching; a long-lived Kiln rebakes an unchanged tree in the time of one watcher round
 * trip.
 */
public final class FilesProvisioner implements Provisioner, AutoCloseable {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(FilesProvisioner.class);

  /**
   * Layers whose walks are retained (each with its directories watched); the least recently
   * prepared goes first.
   */
  static final int RETAINED = 16;

  private boolean watchTrees;
  private TreeWatcher watcher;
  private boolean watcherTried;
  // in access order: the least recently prepared layer first
  private final Map<RetainedKey, RetainedWalk> retained = new LinkedHashMap<>(16, 0.75f, true);

  @Override
  public String kind() {
    return "files";
  }

  /**
   * Watches the trees of layers prepared more than once, so that unchanged ones are not walked
   * again.
   */
  public synchronized void watchTrees() {
    watchTrees = true;
  }

  @Override
  public PreparedLayer prepare(Layer layer, KeyContext ctx) throws BakeException {
    FilesLayer files = (FilesLayer) layer;
    RetainedKey key = new RetainedKey(files.name(), files.entries());
    TreeWatcher tw;
    RetainedWalk before;
    synchronized (this) {
      // the first time a layer is prepared leaves a marker only; watching starts with the second
      before = watchTrees ? retained.get(key) : null;
      tw = before != null ? watcher() : null;
    }
    if (before != null && before.walk() != null && tw != null && before.unchanged(tw)) {
      log.debug(
          "files layer '{}': nothing changed under its watched sources, the last walk stands",
          files.name());
      return before.walk();
    }
    TreeWatcher.Watch watch = tw != null ? tw.newWatch() : null;
    FilesWalk walk = new FilesWalk(files.name(), ctx, tw, watch);
    try {
      for (FilesLayer.Entry e : files.entries()) {
        walk.add(e);
      }
      walk.hashAll();
    } catch (BakeException | RuntimeException e) {
      if (watch != null) {
        watch.release();
      }
      throw e;
    }
    if (watchTrees) {
      boolean keep = watch != null && walk.watchable;
      RetainedWalk now =
          keep ? new RetainedWalk(walk, watch, List.copyOf(walk.sources)) : RetainedWalk.marker();
      if (!keep && watch != null) {
        watch.release();
      }
      synchronized (this) {
        RetainedWalk old = retained.put(key, now);
        if (old != null && old != before) {
          old.release();
        }
        trim();
      }
      if (before != null) {
        before.release();
      }
    }
    return walk;
  }

  /**
   * Keeps the walks (and watches) of the {@value #RETAINED} most recently prepared layers, and
   * markers of more.
   */
  private void trim() {
    int walks = 0;
    for (RetainedWalk r : retained.values()) {
      walks += r.walk() != null ? 1 : 0;
    }
    var it = retained.entrySet().iterator();
    while (it.hasNext() && (walks > RETAINED || retained.size() > RETAINED * 4)) {
      Map.Entry<RetainedKey, RetainedWalk> eldest = it.next();
      if (eldest.getValue().walk() != null) {
        eldest.getValue().release();
        walks--;
        eldest.setValue(RetainedWalk.marker());
      }
      if (retained.size() > RETAINED * 4) {
        it.remove();
      }
    }
  }

  private TreeWatcher watcher() {
    if (watcher != null && watcher.broken()) {
      TreeWatcher.release(watcher);
      watcher = null;
      watcherTried = false;
    }
    if (watchTrees && watcher == null && !watcherTried) {
      watcherTried = true;
      watcher = TreeWatcher.acquire();
    }
    return watcher;
  }

  /** Stops watching and drops every retained walk. */
  @Override
  public synchronized void close() {
    retained.values().forEach(RetainedWalk::release);
    retained.clear();
    if (watcher != null) {
      TreeWatcher.release(watcher);
      watcher = null;
    }
    watchTrees = false;
  }

  private record RetainedKey(String name, List<FilesLayer.Entry> entries) {}
}
