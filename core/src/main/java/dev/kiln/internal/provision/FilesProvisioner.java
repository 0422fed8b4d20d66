package dev.kiln.internal.provision;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.FilesLayer;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.internal.tar.PathOrder;
import dev.kiln.spi.FileStat;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.InputChangedException;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Provisions {@code files} layers: walks the declared sources once, hashes their content through
 * the stat index (unchanged files are not read), and on a cache miss writes them through the
 * canonical layer writer. Pure Java, no daemon. Thread-safe.
 *
 * <p>With {@link #watchTrees()}, a layer prepared a second time by the same instance has its trees
 * watched (see {@link TreeWatcher}) and its walk retained: from then on, when no watched directory
 * reported a change and every declared source still has the same {@code lstat}, the retained walk
 * is the answer and nothing is walked or hashed. A one-off bake never pays for watching; a
 * long-lived Kiln rebakes an unchanged tree in the time of one watcher round trip.
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
  private final Map<RetainedKey, Retained> retained = new LinkedHashMap<>(16, 0.75f, true);

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
    Retained before;
    synchronized (this) {
      // the first time a layer is prepared leaves a marker only; watching starts with the second
      before = watchTrees ? retained.get(key) : null;
      tw = before != null ? watcher() : null;
    }
    if (before != null && before.walk != null && tw != null && before.unchanged(tw)) {
      log.debug(
          "files layer '{}': nothing changed under its watched sources, the last walk stands",
          files.name());
      return before.walk;
    }
    TreeWatcher.Watch watch = tw != null ? tw.newWatch() : null;
    Walk walk = new Walk(files.name(), ctx, tw, watch);
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
      Retained now =
          keep
              ? new Retained(walk, watch, List.copyOf(walk.sources))
              : new Retained(null, null, List.of());
      if (!keep && watch != null) {
        watch.release();
      }
      synchronized (this) {
        Retained old = retained.put(key, now);
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
    for (Retained r : retained.values()) {
      walks += r.walk != null ? 1 : 0;
    }
    var it = retained.entrySet().iterator();
    while (it.hasNext() && (walks > RETAINED || retained.size() > RETAINED * 4)) {
      Map.Entry<RetainedKey, Retained> eldest = it.next();
      if (eldest.getValue().walk != null) {
        eldest.getValue().release();
        walks--;
        eldest.setValue(new Retained(null, null, List.of()));
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
    retained.values().forEach(Retained::release);
    retained.clear();
    if (watcher != null) {
      TreeWatcher.release(watcher);
      watcher = null;
    }
    watchTrees = false;
  }

  private record RetainedKey(String name, List<FilesLayer.Entry> entries) {}

  /** A declared source as the walk found it: its {@code lstat} and, for a symlink, where it led. */
  private record Source(Path declared, FileStat stat, Path real, FileStat realStat) {
    boolean unchanged() {
      try {
        if (!FileStat.lstat(declared).equals(stat)) {
          return false;
        }
        return real == null
            || (declared.toRealPath().equals(real) && FileStat.lstat(real).equals(realStat));
      } catch (IOException e) {
        return false;
      }
    }
  }

  /** A retained walk with the watch over its trees; a marker (null walk) for a layer seen once. */
  private record Retained(Walk walk, TreeWatcher.Watch watch, List<Source> sources) {
    boolean unchanged(TreeWatcher tw) {
      return !walk.stale
          && tw.sync()
          && watch.clean()
          && sources.stream().allMatch(Source::unchanged);
    }

    void release() {
      if (watch != null) {
        watch.release();
      }
    }
  }

  /** A planned entry: the final metadata plus, for files, the source and its digest. */
  private record Planned(
      LayerEntry entry, Path source, FileStat stat, Digest[] digest, String input) {}

  /** The result of walking a files layer's sources. */
  static final class Walk implements PreparedLayer {
    private final String layer;
    private KeyContext ctx;
    private final TreeWatcher watcher;

    /** Null unless this walk's directories are watched. */
    private final TreeWatcher.Watch watch;

    /** Whether every tree was on a file system the watcher trusts. */
    boolean watchable = true;

    final List<Source> sources = new ArrayList<>();
    // later entries for the same path win; in canonical path order (see sorted()) so the
    // fingerprint is independent
    // of walk order
    private final Map<String, Planned> planned = new LinkedHashMap<>();
    private List<Planned> sorted;
    private final Map<String, Digest> declaredInputs = new TreeMap<>();
    private Digest listing;

    /**
     * Set when a file turned out to differ from its digest: the walk is not to be trusted again.
     */
    private volatile boolean stale;

    Walk(String layer, KeyContext ctx, TreeWatcher watcher, TreeWatcher.Watch watch) {
      this.layer = layer;
      this.ctx = ctx;
      this.watcher = watcher;
      this.watch = watch;
    }

    void add(FilesLayer.Entry e) throws ProvisioningException {
      String target = e.target();
      switch (e.kind()) {
        case DIRECTORY ->
            put(
                LayerEntry.directory(rel(target), e.mode().getAsInt()).withOwner(e.uid(), e.gid()),
                null,
                null);
        case SYMLINK ->
            put(
                LayerEntry.symlink(rel(target), e.linkTarget()).withOwner(e.uid(), e.gid()),
                null,
                null);
        case CONTENT -> {
          LayerEntry le =
              LayerEntry.file(rel(target), e.mode().getAsInt(), e.bytes())
                  .withOwner(e.uid(), e.gid());
          Digest d = Digest.of(e.bytes());
          planned.put(le.path(), new Planned(le, null, null, new Digest[] {d}, target));
          declaredInputs.put(target, d);
        }
        case COPY, TREE -> copy(e);
      }
    }

    private void copy(FilesLayer.Entry e) throws ProvisioningException {
      Path src = e.source().toAbsolutePath().normalize();
      FileStat st;
      try {
        st = FileStat.lstat(src);
        if (st.type() == FileStat.Type.SYMLINK) {
          // a declared source is followed, as cp does; only links inside a copied tree are kept as
          // links
          Path declared = src;
          FileStat linkStat = st;
          src = src.toRealPath();
          st = FileStat.lstat(src);
          sources.add(new Source(declared, linkStat, src, st));
        } else {
          sources.add(new Source(src, st, null, null));
        }
      } catch (NoSuchFileException ex) {
        throw new ProvisioningException(
            layer, "source '" + e.source() + "' does not exist (for " + e.target() + ")");
      } catch (IOException ex) {
        throw new ProvisioningException(
            layer, "cannot read source '" + e.source() + "': " + ex.getMessage(), ex);
      }
      if (st.type() == FileStat.Type.DIRECTORY) {
        walkTree(e, src, st);
      } else if (st.type() == FileStat.Type.FILE) {
        if (e.target().equals("/")) {
          throw new ProvisioningException(
              layer, "cannot copy the file '" + src + "' to the image root '/': name a file path");
        }
        FileStat fst = st;
        int mode =
            e.kind() == FilesLayer.Entry.Kind.TREE
                ? fst.mode()
                : e.mode().orElseGet(() -> defaultFileMode(fst));
        file(rel(e.target()), mode, e, src, fst, e.target());
      } else {
        throw new ProvisioningException(
            layer, "source '" + src + "' is neither a file nor a directory");
      }
    }

    /**
     * Walks a directory tree with one {@code lstat} per path (the stat also answers the stat
     * index), depth first. Symlinks are kept as links, never followed; a special file is an error.
     */
    private void walkTree(FilesLayer.Entry e, Path root, FileStat rootStat)
        throws ProvisioningException {
      String base = e.target().equals("/") ? "" : rel(e.target());
      boolean keepModes = e.kind() == FilesLayer.Entry.Kind.TREE;
      if (!base.isEmpty()) {
        put(
            LayerEntry.directory(base, keepModes ? rootStat.mode() : 0755)
                .withOwner(e.uid(), e.gid()),
            null,
            null);
      }
      if (watch != null && watchable && !watcher.watchable(root)) {
        watchable = false;
      }
      try {
        Map<String, Listing> listings = listAll(root, rootStat, base);
        emit(e, listings, base, keepModes);
      } catch (IOException ex) {
        String what =
            ex instanceof AccessDeniedException
                ? "cannot read '" + ex.getMessage() + "': permission denied"
                : ex.getMessage();
        throw new ProvisioningException(layer, what, ex);
      }
      declaredInputs.put(
          e.target(), null); // filled in by hashAll as the digest of the tree's listing
    }

    /**
     * Lists and stats every directory of the tree, level by level: the directories of a level are
     * read in parallel, then the lstat of every path of the level is spread over all cores (one
     * large directory must not hold a level up on one core). A no-op rebake is these system calls:
     * on a tree of small files they are most of its time.
     */
    private Map<String, Listing> listAll(Path root, FileStat rootStat, String base) {
      Map<String, Listing> listings = new HashMap<>();
      List<Listing> level = List.of(new Listing(root, base, rootStat.inode()));
      TreeWatcher.Watch w = watchable ? watch : null;
      while (!level.isEmpty()) {
        level.parallelStream().forEach(l -> l.list(watcher, w));
        int total = 0;
        for (Listing l : level) {
          total += l.error == null ? l.names.length : 0;
        }
        Listing[] owner = new Listing[total];
        int[] index = new int[total];
        int k = 0;
        for (Listing l : level) {
          if (l.error == null) {
            for (int i = 0; i < l.names.length; i++, k++) {
              owner[k] = l;
              index[k] = i;
            }
          }
        }
        java.util.stream.IntStream.range(0, total).parallel().forEach(j -> owner[j].stat(index[j]));
        List<Listing> next = new ArrayList<>();
        for (Listing l : level) {
          listings.put(l.prefix, l);
          if (l.error == null) {
            for (int i = 0; i < l.names.length; i++) {
              if (l.stats[i] != null && l.stats[i].type() == FileStat.Type.DIRECTORY) {
                next.add(
                    new Listing(l.children[i], join(l.prefix, l.names[i]), l.stats[i].inode()));
              }
            }
          }
        }
        level = next;
      }
      return listings;
    }

    /**
     * Plans the listed tree depth first, in canonical order; the first error in that order is the
     * one reported.
     */
    private void emit(
        FilesLayer.Entry e, Map<String, Listing> listings, String prefix, boolean keepModes)
        throws IOException {
      Listing l = listings.get(prefix);
      if (l.error != null) {
        throw l.error;
      }
      for (int i = 0; i < l.names.length; i++) {
        Path child = l.children[i];
        String p = join(prefix, l.names[i]);
        FileStat st = l.stats[i];
        switch (st.type()) {
          case DIRECTORY -> {
            put(
                LayerEntry.directory(p, keepModes ? st.mode() : 0755).withOwner(e.uid(), e.gid()),
                null,
                null);
            emit(e, listings, p, keepModes);
          }
          case SYMLINK ->
              put(LayerEntry.symlink(p, l.links[i]).withOwner(e.uid(), e.gid()), null, null);
          case FILE ->
              file(
                  p,
                  keepModes ? st.mode() : e.mode().orElseGet(() -> defaultFileMode(st)),
                  e,
                  child,
                  st,
                  null);
          default ->
              throw new IOException(
                  "'"
                      + child
                      + "' is a special file (device, socket or pipe): declare it in code instead");
        }
      }
    }

    private void file(
        String path, int mode, FilesLayer.Entry e, Path src, FileStat st, String input) {
      // the size from the walk's own stat: a file that changes before it is written is caught by
      // the writer
      LayerEntry le =
          LayerEntry.file(path, mode, st.size(), LayerEntry.Content.of(src))
              .withOwner(e.uid(), e.gid());
      planned.put(le.path(), new Planned(le, src, st, new Digest[1], input));
    }

    private void put(LayerEntry le, Path src, Digest d) {
      planned.put(le.path(), new Planned(le, src, null, new Digest[] {d}, null));
    }

    /** Hashes every file that needs it, in parallel; the stat index answers for unchanged files. */
    void hashAll() throws ProvisioningException {
      // the walk visits each directory's children in canonical order, so this sort only merges the
      // declared
      // entries (a sorted run is checked in one pass)
      List<Planned> all = new ArrayList<>(planned.values());
      all.sort((a, b) -> PathOrder.compare(a.entry().path(), b.entry().path()));
      sorted = all;
      List<Planned> todo = new ArrayList<>();
      for (Planned p : sorted) {
        if (p.source() != null) {
          todo.add(p);
        }
      }
      try {
        todo.parallelStream()
            .forEach(
                p -> {
                  try {
                    p.digest()[0] =
                        p.stat() != null
                            ? ctx.files().digest(p.source(), p.stat())
                            : ctx.files().digest(p.source());
                  } catch (IOException ex) {
                    throw new java.io.UncheckedIOException(ex);
                  }
                });
      } catch (java.io.UncheckedIOException ex) {
        IOException io = ex.getCause();
        String msg =
            io instanceof AccessDeniedException
                ? "cannot read '" + io.getMessage() + "': permission denied"
                : "cannot read input: " + io;
        throw new ProvisioningException(layer, msg, io);
      }
      for (Planned p : todo) {
        if (p.input() != null) {
          declaredInputs.put(p.input(), p.digest()[0]);
        }
      }
      // a walk may be retained across bakes: keep only what fingerprint and provision use
      planned.clear();
      ctx = null;
      // the whole listing, described once; a copied tree is listed as one input, the digest of its
      // own listing,
      // which for a tree that makes up the whole layer (the common case) is the listing's digest
      Fingerprint whole = new Fingerprint();
      sorted.forEach(p -> describe(whole, p));
      listing = whole.digest();
      for (Map.Entry<String, Digest> in : declaredInputs.entrySet()) {
        if (in.getValue() == null) {
          String prefix = in.getKey().equals("/") ? "" : rel(in.getKey());
          List<Planned> tree =
              sorted.stream().filter(p -> under(p.entry().path(), prefix)).toList();
          if (tree.size() == sorted.size()) {
            in.setValue(listing);
          } else {
            Fingerprint sub = new Fingerprint();
            tree.forEach(p -> describe(sub, p));
            in.setValue(sub.digest());
          }
        }
      }
    }

    private static boolean under(String path, String prefix) {
      return prefix.isEmpty()
          || path.equals(prefix)
          || (path.length() > prefix.length()
              && path.startsWith(prefix)
              && path.charAt(prefix.length()) == '/');
    }

    @Override
    public void fingerprint(Fingerprint fp) {
      fp.put("format", "files.v2");
      fp.put("entries", sorted.size());
      fp.put("listing", listing);
      declaredInputs.forEach((name, d) -> fp.input(name, d));
    }

    private static void describe(Fingerprint fp, Planned p) {
      LayerEntry e = p.entry();
      fp.put("path", e.path())
          .put("type", e.type().name())
          .put("mode", e.mode())
          .put("uid", e.uid())
          .put("gid", e.gid());
      if (e.type() == LayerEntry.Type.SYMLINK) {
        fp.put("link", e.linkTarget());
      }
      if (e.type() == LayerEntry.Type.FILE) {
        fp.put("size", e.size()).put("content", p.digest()[0]);
      }
    }

    /**
     * Writes the layer; each file's bytes are checked, as they are copied, against the digest its
     * key was computed from. A file changed since is an error naming it: nothing is stored, the
     * stat index forgets the file and a retained walk is not trusted again, so the next bake hashes
     * it afresh.
     */
    @Override
    public LayerBlob provision(ProvisionContext pc) throws BakeException {
      try (LayerWriter w = pc.newLayerWriter()) {
        for (Planned p : sorted) {
          LayerEntry e = p.entry();
          w.add(
              p.source() != null && e.type() == LayerEntry.Type.FILE
                  ? e.withContent(LayerEntry.Content.hashed(p.source(), p.digest()[0]))
                  : e);
        }
        return w.finish();
      } catch (InputChangedException e) {
        stale = true;
        pc.files().forget(e.file());
        throw new ProvisioningException(layer, e.getMessage(), e);
      } catch (IllegalArgumentException e) {
        throw new ProvisioningException(layer, e.getMessage(), e);
      } catch (IOException e) {
        throw new ProvisioningException(layer, "writing the layer failed: " + e.getMessage(), e);
      }
    }

    /**
     * One directory's children: names in canonical order, each with its lstat (and link target).
     */
    private static final class Listing {
      final Path dir;
      final String prefix;
      final long inode;
      Path[] children;
      String[] names;
      FileStat[] stats;
      String[] links;

      /** The error of the first child in canonical order that failed, or of the listing itself. */
      IOException error;

      private int errorAt = Integer.MAX_VALUE;

      Listing(Path dir, String prefix, long inode) {
        this.dir = dir;
        this.prefix = prefix;
        this.inode = inode;
      }

      /**
       * Reads the directory and sorts its names; the children are stat-ed by {@link #stat}. With a
       * watch, the directory is watched first, so a change after the listing is reported.
       */
      void list(TreeWatcher watcher, TreeWatcher.Watch watch) {
        if (watch != null) {
          try {
            watcher.register(watch, dir, inode);
          } catch (IOException e) {
            // the watch is dirty: the next bake walks again
            log.debug("cannot watch {}: {}", dir, e.toString());
          }
        }
        try {
          List<Path> found = new ArrayList<>();
          try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(found::add);
          }
          int n = found.size();
          String[] unsorted = new String[n];
          Integer[] order = new Integer[n];
          for (int i = 0; i < n; i++) {
            unsorted[i] = found.get(i).getFileName().toString();
            order[i] = i;
          }
          // names without whiteout prefixes or surrogates sort in PathOrder exactly as plain
          // strings do
          boolean plain = true;
          for (String name : unsorted) {
            plain &=
                !name.startsWith(".wh.")
                    && name.chars().noneMatch(c -> Character.isSurrogate((char) c));
          }
          java.util.Comparator<Integer> cmp =
              plain
                  ? (a, b) -> unsorted[a].compareTo(unsorted[b])
                  : (a, b) -> PathOrder.compare(unsorted[a], unsorted[b]);
          java.util.Arrays.sort(order, cmp);
          children = new Path[n];
          names = new String[n];
          stats = new FileStat[n];
          links = new String[n];
          for (int i = 0; i < n; i++) {
            children[i] = found.get(order[i]);
            names[i] = unsorted[order[i]];
          }
        } catch (IOException e) {
          error = e;
          errorAt = -1;
        }
      }

      /** The lstat of child {@code i} (and its link target); thread-safe for distinct {@code i}. */
      void stat(int i) {
        try {
          stats[i] = FileStat.lstat(children[i]);
          if (stats[i].type() == FileStat.Type.SYMLINK) {
            links[i] = Files.readSymbolicLink(children[i]).toString();
          }
        } catch (IOException e) {
          synchronized (this) {
            if (i < errorAt) {
              errorAt = i;
              error = e;
            }
          }
        }
      }
    }

    private static String join(String base, String rel) {
      if (rel.isEmpty()) {
        return base;
      }
      return base.isEmpty() ? rel : base + "/" + rel;
    }
  }

  static String rel(String absolute) {
    return LayerEntry.normalize(absolute);
  }

  /** 0755 when the owner may execute the file, else 0644: all a git checkout keeps. */
  static int defaultFileMode(FileStat st) {
    return (st.mode() & 0100) != 0 ? 0755 : 0644;
  }
}
