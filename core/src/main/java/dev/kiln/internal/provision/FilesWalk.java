package dev.kiln.internal.provision;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.FilesLayer;
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
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The result of walking a files layer's sources: every entry planned with its metadata, every file
 * hashed (the stat index answers for unchanged ones), the fingerprint of the whole listing, and the
 * writing of the layer on a cache miss. {@link FilesProvisioner} may retain it across bakes.
 */
final class FilesWalk implements PreparedLayer {
  private final String layer;
  private KeyContext ctx;
  private final TreeWatcher watcher;

  /** Null unless this walk's directories are watched. */
  private final TreeWatcher.Watch watch;

  /** Whether every tree was on a file system the watcher trusts. */
  boolean watchable = true;

  final List<DeclaredSource> sources = new ArrayList<>();
  // later entries for the same path win; put in canonical path order by hashAll, so the
  // fingerprint is independent of walk order
  private final Map<String, Planned> planned = new LinkedHashMap<>();
  private List<Planned> sorted;
  private final Map<String, Digest> declaredInputs = new TreeMap<>();
  private Digest listing;

  /** Set when a file turned out to differ from its digest: the walk is not to be trusted again. */
  private volatile boolean stale;

  FilesWalk(String layer, KeyContext ctx, TreeWatcher watcher, TreeWatcher.Watch watch) {
    this.layer = layer;
    this.ctx = ctx;
    this.watcher = watcher;
    this.watch = watch;
  }

  void add(FilesLayer.Entry e) throws ProvisioningException {
    String target = e.target();
    switch (e.kind()) {
      case DIRECTORY ->
          put(LayerEntry.directory(rel(target), e.mode().getAsInt()).owner(e.uid(), e.gid()));
      case SYMLINK -> put(LayerEntry.symlink(rel(target), e.linkTarget()).owner(e.uid(), e.gid()));
      case CONTENT -> {
        LayerEntry le =
            LayerEntry.file(rel(target), e.mode().getAsInt(), e.bytes()).owner(e.uid(), e.gid());
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
        sources.add(new DeclaredSource(declared, linkStat, src, st));
      } else {
        sources.add(new DeclaredSource(src, st, null, null));
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
   * Walks a directory tree with one {@code lstat} per path (the stat also answers the stat index),
   * depth first. Symlinks are kept as links, never followed; a special file is an error.
   */
  private void walkTree(FilesLayer.Entry e, Path root, FileStat rootStat)
      throws ProvisioningException {
    String base = e.target().equals("/") ? "" : rel(e.target());
    boolean keepModes = e.kind() == FilesLayer.Entry.Kind.TREE;
    if (!base.isEmpty()) {
      put(LayerEntry.directory(base, keepModes ? rootStat.mode() : 0755).owner(e.uid(), e.gid()));
    }
    if (watch != null && watchable && !watcher.watchable(root)) {
      watchable = false;
    }
    try {
      Map<String, DirectoryListing> listings =
          DirectoryListing.listTree(root, rootStat, base, watcher, watchable ? watch : null);
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
   * Plans the listed tree depth first, in canonical order; the first error in that order is the one
   * reported.
   */
  private void emit(
      FilesLayer.Entry e, Map<String, DirectoryListing> listings, String prefix, boolean keepModes)
      throws IOException {
    DirectoryListing l = listings.get(prefix);
    if (l.error != null) {
      throw l.error;
    }
    for (int i = 0; i < l.names.length; i++) {
      Path child = l.children[i];
      String p = l.path(i);
      FileStat st = l.stats[i];
      switch (st.type()) {
        case DIRECTORY -> {
          put(LayerEntry.directory(p, keepModes ? st.mode() : 0755).owner(e.uid(), e.gid()));
          emit(e, listings, p, keepModes);
        }
        case SYMLINK -> put(LayerEntry.symlink(p, l.links[i]).owner(e.uid(), e.gid()));
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
        LayerEntry.file(path, mode, st.size(), LayerEntry.Content.of(src)).owner(e.uid(), e.gid());
    planned.put(le.path(), new Planned(le, src, st, new Digest[1], input));
  }

  private void put(LayerEntry le) {
    planned.put(le.path(), new Planned(le, null, null, new Digest[] {null}, null));
  }

  /** Hashes every file that needs it, in parallel; the stat index answers for unchanged files. */
  void hashAll() throws ProvisioningException {
    // the walk visits each directory's children in canonical order, so this sort only merges the
    // declared entries (a sorted run is checked in one pass)
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
    // own listing, which for a tree that makes up the whole layer (the common case) is the
    // listing's digest
    Fingerprint whole = new Fingerprint();
    sorted.forEach(p -> describe(whole, p));
    listing = whole.digest();
    for (Map.Entry<String, Digest> in : declaredInputs.entrySet()) {
      if (in.getValue() == null) {
        String prefix = in.getKey().equals("/") ? "" : rel(in.getKey());
        List<Planned> tree = sorted.stream().filter(p -> under(p.entry().path(), prefix)).toList();
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
   * Writes the layer; each file's bytes are checked, as they are copied, against the digest its key
   * was computed from. A file changed since is an error naming it: nothing is stored, the stat
   * index forgets the file and a retained walk is not trusted again, so the next bake hashes it
   * afresh.
   */
  @Override
  public LayerBlob provision(ProvisionContext pc) throws BakeException {
    try (LayerWriter w = pc.newLayerWriter()) {
      for (Planned p : sorted) {
        LayerEntry e = p.entry();
        w.add(
            p.source() != null && e.type() == LayerEntry.Type.FILE
                ? e.content(LayerEntry.Content.hashed(p.source(), p.digest()[0]))
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

  /** Each file is checked against its digest as it is copied: the tar is final once written. */
  @Override
  public boolean finalOnceWritten() {
    return true;
  }

  /**
   * Whether a file turned out to differ from its digest, so this walk is not to be trusted again.
   */
  boolean stale() {
    return stale;
  }

  private static String rel(String absolute) {
    return LayerEntry.normalize(absolute);
  }

  /** 0755 when the owner may execute the file, else 0644: all a git checkout keeps. */
  private static int defaultFileMode(FileStat st) {
    return (st.mode() & 0100) != 0 ? 0755 : 0644;
  }

  /** A planned entry: the final metadata plus, for files, the source and its digest. */
  private record Planned(
      LayerEntry entry, Path source, FileStat stat, Digest[] digest, String input) {}
}
