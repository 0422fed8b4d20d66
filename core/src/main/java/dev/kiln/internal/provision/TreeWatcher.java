package dev.kiln.internal.provision;

import static java.nio.file.StandardWatchEventKinds.ENTRY_CREATE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_DELETE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_MODIFY;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kernel file-system watches (inotify) over the directories of walked trees, so that a long-lived
 * Kiln can tell that nothing under a tree changed since its last walk without walking it again.
 *
 * <p>A {@link Watch} is a token for one walk. The walker {@linkplain #register registers} each
 * directory with it <em>before</em> listing that directory, so every change is either seen by the
 * listing or reported by the kernel afterwards; any event in a registered directory makes the token
 * dirty. Events arrive asynchronously, so a caller first calls {@link #sync}: it creates a cookie
 * file in a watched directory of the watcher's own and waits until that file's event has been
 * handled. The kernel queues one watcher's events in order, so by then every change made before the
 * call has been applied to the tokens (the technique file-watching build tools use).
 *
 * <p>Only used on Linux with its native watch service and on local file systems; anything
 * unexpected (a lost event queue, a deleted directory, a sync that times out, the watch limit)
 * makes the tokens dirty or the watcher unavailable, and callers walk as they would without it. Not
 * detected, as with every inotify-based tool: writes through a hard link from outside the tree,
 * writes through a shared memory mapping without a later {@code write}/{@code truncate}, and
 * changes made on another machine of a network file system (which is why those file systems are not
 * watched).
 */
final class TreeWatcher implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(TreeWatcher.class);

  /** File systems whose changes all go through this kernel, so inotify sees them. */
  private static final Set<String> LOCAL =
      Set.of(
          "ext2",
          "ext3",
          "ext4",
          "xfs",
          "btrfs",
          "tmpfs",
          "overlay",
          "zfs",
          "f2fs",
          "reiserfs",
          "jfs",
          "bcachefs");

  private static final long SYNC_TIMEOUT_MS = 2_000;

  private final WatchService service;
  private final Path cookies;
  private final WatchKey cookieKey;
  private final Thread drain;
  private final Map<Path, Dir> byPath = new ConcurrentHashMap<>();
  private final Map<WatchKey, Dir> byKey = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Void>> pending = new ConcurrentHashMap<>();
  private final AtomicLong cookieIds = new AtomicLong();
  private volatile boolean broken;

  /**
   * The process's shared watcher: one inotify instance per JVM however many Kiln instances it
   * holds.
   */
  private static TreeWatcher shared;

  /** How many holders this watcher has; guarded by the class. */
  private int holders;

  private TreeWatcher(WatchService service, Path cookies) throws IOException {
    this.service = service;
    this.cookies = cookies;
    this.cookieKey = cookies.register(service, ENTRY_CREATE);
    this.drain = new Thread(this::drain, "kiln-watch");
    drain.setDaemon(true);
    drain.start();
  }

  /**
   * The process's watcher, opened on first use; null when this platform has none Kiln trusts. Each
   * successful call is paired with {@link #release}.
   */
  static synchronized TreeWatcher acquire() {
    if (shared == null || shared.broken) {
      shared = open();
    }
    if (shared != null) {
      shared.holders++;
    }
    return shared;
  }

  /** Gives back a watcher from {@link #acquire}; the last holder closes it. */
  static synchronized void release(TreeWatcher w) {
    if (--w.holders == 0) {
      w.close();
      if (shared == w) {
        shared = null;
      }
    }
  }

  /**
   * A watcher of its own, or null when this platform has none that Kiln trusts (the reason is
   * logged).
   */
  static TreeWatcher open() {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) {
      log.debug("file-system watching is used on Linux only");
      return null;
    }
    WatchService ws = null;
    Path dir = null;
    try {
      ws = FileSystems.getDefault().newWatchService();
      if (!ws.getClass().getName().contains("Linux")) {
        ws.close();
        log.debug("no native watch service ({}): not watching", ws.getClass().getName());
        return null;
      }
      dir = Files.createTempDirectory("kiln-watch");
      return new TreeWatcher(ws, dir);
    } catch (IOException | RuntimeException e) {
      // e.g. the limit of inotify instances per user is reached: walking is correct, only slower
      log.info("file-system watching unavailable, every bake walks its trees: {}", e.toString());
      closeQuietly(ws);
      deleteQuietly(dir);
      return null;
    }
  }

  /** A new token; release it when its walk is no longer retained. */
  Watch newWatch() {
    return new Watch();
  }

  /** Whether changes under {@code dir} are all seen by this kernel (a local file system). */
  boolean watchable(Path dir) {
    try {
      return LOCAL.contains(Files.getFileStore(dir).type());
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Watches {@code dir} for {@code w}; call it before listing the directory. {@code inode} is the
   * directory's inode from the walk's own stat: a path whose directory was replaced is watched
   * again.
   *
   * @throws IOException when the directory cannot be watched (the watch limit, say): the token is
   *     then dirty
   */
  void register(Watch w, Path dir, long inode) throws IOException {
    try {
      Dir d;
      synchronized (this) {
        d = byPath.get(dir);
        if (d == null || d.inode != inode || !d.key.isValid()) {
          WatchKey key = dir.register(service, ENTRY_CREATE, ENTRY_DELETE, ENTRY_MODIFY);
          // the same directory under another path (renamed) shares its kernel watch, and so its key
          d = byKey.computeIfAbsent(key, k -> new Dir(k, dir, inode));
          byPath.put(dir, d);
        }
        d.users.add(w);
        w.dirs.add(d);
      }
    } catch (IOException | RuntimeException e) {
      w.dirty = true;
      throw e instanceof IOException io ? io : new IOException(e);
    }
  }

  /**
   * Waits until every change made before this call has been applied to the tokens.
   *
   * @return false when that could not be established (the caller must then treat every token as
   *     dirty)
   */
  boolean sync() {
    if (broken) {
      return false;
    }
    String name = "sync-" + cookieIds.incrementAndGet();
    Path cookie = cookies.resolve(name);
    CompletableFuture<Void> seen = new CompletableFuture<>();
    pending.put(name, seen);
    try {
      Files.createFile(cookie);
      seen.get(SYNC_TIMEOUT_MS, TimeUnit.MILLISECONDS);
      return !broken;
    } catch (IOException | ExecutionException | TimeoutException e) {
      log.debug("file-system watch sync failed: {}", e.toString());
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      pending.remove(name);
      try {
        Files.deleteIfExists(cookie);
      } catch (IOException e) {
        // the directory goes on close
      }
    }
  }

  private void drain() {
    try {
      while (true) {
        handle(service.take());
      }
    } catch (ClosedWatchServiceException | InterruptedException e) {
      // closed
    } catch (RuntimeException e) {
      log.warn("file-system watching stopped, every bake walks its trees again: {}", e.toString());
    } finally {
      broken = true;
      pending
          .values()
          .forEach(f -> f.completeExceptionally(new IOException("the watcher stopped")));
      byKey.values().forEach(Dir::changed);
    }
  }

  private void handle(WatchKey key) {
    if (key == cookieKey) {
      java.util.List<String> names = new java.util.ArrayList<>();
      for (WatchEvent<?> e : key.pollEvents()) {
        if (e.kind() == ENTRY_CREATE && e.context() instanceof Path p) {
          names.add(p.toString());
        } else {
          // an overflow: events may have been lost, for every directory
          byKey.values().forEach(Dir::changed);
        }
      }
      if (!key.reset()) {
        broken = true;
      }
      if (!names.isEmpty()) {
        // every event queued before the cookie's was handed to its key before the cookie's: handle
        // them first
        for (WatchKey k = service.poll(); k != null; k = service.poll()) {
          handle(k);
        }
        for (String n : names) {
          CompletableFuture<Void> f = pending.get(n);
          if (f != null) {
            f.complete(null);
          }
        }
      }
      return;
    }
    key.pollEvents();
    Dir d = byKey.get(key);
    if (d != null) {
      d.changed();
    }
    if (!key.reset()) {
      // the directory is gone (or no longer watched)
      synchronized (this) {
        if (d != null) {
          byKey.remove(key, d);
          byPath.remove(d.path, d);
          d.changed();
        }
      }
    }
  }

  @Override
  public void close() {
    broken = true;
    closeQuietly(service);
    try {
      drain.join(1_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    deleteQuietly(cookies);
  }

  /** Whether this watcher stopped (closed, or its thread failed): its watches are all dirty. */
  boolean broken() {
    return broken;
  }

  /** Whether the drain thread still runs (for tests). */
  boolean running() {
    return drain.isAlive();
  }

  /** How many directories are watched (for tests). */
  int watchedDirectories() {
    return byKey.size();
  }

  private static void closeQuietly(WatchService ws) {
    if (ws != null) {
      try {
        ws.close();
      } catch (IOException e) {
        // nothing held
      }
    }
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null) {
      return;
    }
    try (var s = Files.list(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Files.deleteIfExists(p);
      }
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // a temp directory left in java.io.tmpdir
    }
  }

  /** A watched directory and the tokens that rely on it. */
  private static final class Dir {
    final WatchKey key;
    final Path path;
    final long inode;
    final Set<Watch> users = ConcurrentHashMap.newKeySet();

    Dir(WatchKey key, Path path, long inode) {
      this.key = key;
      this.path = path;
      this.inode = inode;
    }

    void changed() {
      users.forEach(w -> w.dirty = true);
    }
  }

  /** A token that stays clean while nothing changes in the directories registered with it. */
  final class Watch {
    private final Set<Dir> dirs = ConcurrentHashMap.newKeySet();
    private volatile boolean dirty;

    /** Whether nothing changed since registration; meaningful after a successful {@link #sync}. */
    boolean clean() {
      return !dirty && !broken;
    }

    /** Drops this token; directories no other token relies on are no longer watched. */
    void release() {
      dirty = true;
      synchronized (TreeWatcher.this) {
        for (Dir d : dirs) {
          d.users.remove(this);
          if (d.users.isEmpty()) {
            d.key.cancel();
            byKey.remove(d.key, d);
            byPath.remove(d.path, d);
          }
        }
        dirs.clear();
      }
    }
  }
}
