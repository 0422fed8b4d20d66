package dev.kiln.internal.tar;

import com.google.common.collect.ImmutableList;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerReader;
import java.io.FilterInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The root file system that a stack of layers adds up to, for writers of whole disks (ext4) and for
 * provisioners that need the image as one tree.
 *
 * <p>{@link #flatten(List)} reads the metadata of every layer, lowest first, and applies them as a
 * container runtime does: a later entry replaces an earlier one of the same path (a directory over
 * a directory only updates its metadata and keeps the children; a file over a directory, or the
 * reverse, replaces the whole subtree); a whiteout deletes a path and everything under it; an
 * opaque whiteout hides what the lower layers have in its directory. A layer's whiteouts apply to
 * the layers below it only, whatever their position in the tarball. Parent directories a layer does
 * not declare are created (0755, 0:0), and parents that are symlinks of a lower layer are followed
 * inside the image root, as containerd does.
 *
 * <p>The result is available two ways. {@link #entries()} is the final metadata in canonical order
 * (a directory before its children). {@link #forEach(FlatEntryVisitor)} visits the same entries
 * once more with readable content, reading each layer at most once: directories first, then regular
 * files grouped by the layer their content comes from (lowest layer first, archive order within it)
 * with {@link LayerEntry#content()} open-able during the visit, then symlinks, devices and fifos,
 * then hard links, whose targets have all been visited by then.
 *
 * <p>Hard links: paths linked to each other share one inode here. Deleting or replacing the link
 * target in a later layer leaves the other paths with the old content, as on a real file system;
 * when only one path of an inode survives it is a plain file, and otherwise the first surviving
 * path in canonical order holds the content and the others are {@link Type#HARDLINK} entries
 * pointing at it. A hard link whose target does not exist when its layer is applied is an error, as
 * it is for {@code tar -x}.
 *
 * <p>Immutable once built and safe to share between threads: each {@link #forEach} call (there may
 * be several) opens its own readers on the layer files, which must not change in the meantime.
 */
public final class LayerFlattener {
  /** Receives the entries of the flattened tree, with their content open-able during the call. */
  @FunctionalInterface
  public interface FlatEntryVisitor {
    /**
     * Called once per final entry; for a FILE, {@code entry.content().open()} works until this
     * method returns.
     */
    void visit(LayerEntry entry) throws IOException;
  }

  private static final int MAX_SYMLINK_HOPS = 40;

  private final List<Path> layers;
  private final TreeMap<String, Node> tree = new TreeMap<>(PathOrder.COMPARATOR);
  private int symlinkCount;
  private List<LayerEntry> entries;

  private LayerFlattener(List<Path> layers) {
    this.layers = layers;
  }

  /**
   * Reads the metadata of {@code layers} (tar or tar.gz files, lowest first) and computes the
   * flattened tree.
   */
  public static LayerFlattener flatten(List<Path> layers) throws IOException {
    LayerFlattener f = new LayerFlattener(List.copyOf(layers));
    for (int i = 0; i < f.layers.size(); i++) {
      f.apply(i);
    }
    f.entries = f.finalEntries();
    return f;
  }

  /**
   * The final entries in canonical order. A FILE's content can be opened here too, but each open
   * reads its layer from the start up to that file: for the content of many files use {@link
   * #forEach(FlatEntryVisitor)}.
   */
  public List<LayerEntry> entries() {
    return entries;
  }

  /**
   * Visits every final entry once, directories first and file contents layer by layer (see the
   * class doc).
   */
  public void forEach(FlatEntryVisitor visitor) throws IOException {
    Objects.requireNonNull(visitor, "visitor");
    List<LayerEntry> later = new ArrayList<>();
    List<LayerEntry> links = new ArrayList<>();
    for (LayerEntry e : entries) {
      if (e.type() == Type.DIRECTORY) {
        visitor.visit(e);
      } else if (e.type() == Type.HARDLINK) {
        links.add(e);
      } else if (e.type() != Type.FILE) {
        later.add(e);
      }
    }
    visitFiles(visitor);
    for (LayerEntry e : later) {
      visitor.visit(e);
    }
    for (LayerEntry e : links) {
      visitor.visit(e);
    }
  }

  private void visitFiles(FlatEntryVisitor visitor) throws IOException {
    // Every surviving inode with content, by layer and position in it.
    TreeMap<Integer, TreeMap<Long, Inode>> byLayer = new TreeMap<>();
    for (Node n : tree.values()) {
      Inode i = n.inode;
      if (i != null && i.meta.type() == Type.FILE && i.owner != null) {
        byLayer.computeIfAbsent(i.layer, k -> new TreeMap<>()).put(i.ordinal, i);
      }
    }
    for (Map.Entry<Integer, TreeMap<Long, Inode>> layer : byLayer.entrySet()) {
      Path file = layers.get(layer.getKey());
      Iterator<Inode> wanted = layer.getValue().values().iterator();
      Inode next = wanted.next();
      try (LayerReader reader = LayerReader.open(file)) {
        long ordinal = 0;
        LayerEntry e;
        while (next != null && (e = reader.next()) != null) {
          if (ordinal++ != next.ordinal) {
            continue;
          }
          if (!e.path().equals(next.meta.path()) || e.size() != next.meta.size()) {
            throw new IOException(
                "layer "
                    + file
                    + " changed while being flattened: expected '"
                    + next.meta.path()
                    + "' at entry "
                    + next.ordinal
                    + ", found '"
                    + e.path()
                    + "'");
          }
          visitor.visit(withPath(next.meta, next.owner, e.content()));
          next = wanted.hasNext() ? wanted.next() : null;
        }
      }
      if (next != null) {
        throw new IOException(
            "layer " + file + " changed while being flattened: '" + next.meta.path() + "' is gone");
      }
    }
  }

  /**
   * Applies layer {@code index}: its whiteouts to what lies below, then its entries in archive
   * order.
   */
  private void apply(int index) throws IOException {
    Path file = layers.get(index);
    List<String> whiteouts = new ArrayList<>();
    List<String> opaques = new ArrayList<>();
    List<Inode> adds = new ArrayList<>();
    try (LayerReader reader = LayerReader.open(file)) {
      long ordinal = 0;
      LayerEntry e;
      while ((e = reader.next()) != null) {
        if (e.type() == Type.WHITEOUT) {
          whiteouts.add(e.path());
        } else if (e.type() == Type.OPAQUE_WHITEOUT) {
          opaques.add(e.path());
        } else {
          adds.add(
              new Inode(
                  index,
                  ordinal,
                  withPath(e, e.path(), e.type() == Type.FILE ? NO_CONTENT : null)));
        }
        ordinal++;
      }
    }
    for (String w : whiteouts) {
      removeSubtree(resolveParent(w) + name(w), true);
    }
    for (String d : opaques) {
      String dir = resolveDirectory(d);
      if (!dir.isEmpty()) {
        removeSubtree(dir, false);
      }
    }
    for (Inode add : adds) {
      add(add, file);
    }
  }

  private void add(Inode add, Path file) throws IOException {
    LayerEntry e = add.meta;
    String parent = resolveParent(e.path());
    String path = parent + name(e.path());
    ensureDirectories(parent);
    Node existing = tree.get(path);
    if (e.type() == Type.DIRECTORY) {
      if (existing != null && existing.inode == null) {
        existing.dir = e; // a directory over a directory: new metadata, same children
        return;
      }
      removeSubtree(path, true);
      tree.put(path, Node.directory(e));
      return;
    }
    Inode inode = add;
    if (e.type() == Type.HARDLINK) {
      String target = resolveParent(e.linkTarget()) + name(e.linkTarget());
      Node t = tree.get(target);
      if (t == null || t.inode == null) {
        throw new IOException(
            String.format(
                "hard link '%s' -> '%s' in layer %s: the target %s",
                e.path(), e.linkTarget(), file, t == null ? "does not exist" : "is a directory"));
      }
      inode = t.inode;
      if (target.equals(path)) {
        return; // a link to itself changes nothing
      }
    }
    removeSubtree(path, true);
    tree.put(path, Node.of(inode));
    if (inode.meta.type() == Type.SYMLINK) {
      symlinkCount++;
    }
  }

  /** Makes every segment of {@code dir} (resolved, with a trailing slash or empty) a directory. */
  private void ensureDirectories(String dir) {
    if (dir.isEmpty()) {
      return;
    }
    String path = dir.substring(0, dir.length() - 1);
    int from = 0;
    while (true) {
      int slash = path.indexOf('/', from);
      String ancestor = slash < 0 ? path : path.substring(0, slash);
      Node n = tree.get(ancestor);
      if (n == null || n.inode != null) {
        // Missing, or a file where a directory must be: tar -x on a real file system would make one
        // (or fail).
        removeSubtree(ancestor, true);
        tree.put(ancestor, Node.directory(LayerEntry.directory(ancestor, 0755)));
      }
      if (slash < 0) {
        return;
      }
      from = slash + 1;
    }
  }

  /** Removes {@code path} (if {@code self}) and everything under it. */
  private void removeSubtree(String path, boolean self) {
    if (self) {
      Node removed = tree.remove(path);
      if (removed != null && removed.inode != null && removed.inode.meta.type() == Type.SYMLINK) {
        symlinkCount--;
      }
    }
    String prefix = path + "/";
    Iterator<Map.Entry<String, Node>> it = tree.tailMap(path, false).entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<String, Node> child = it.next();
      if (!child.getKey().startsWith(prefix)) {
        break; // PathOrder keeps a subtree contiguous, right after its root
      }
      Node n = child.getValue();
      if (n.inode != null && n.inode.meta.type() == Type.SYMLINK) {
        symlinkCount--;
      }
      it.remove();
    }
  }

  /** The resolved parent directory of {@code path} with a trailing slash, or "" for the root. */
  private String resolveParent(String path) throws IOException {
    int slash = path.lastIndexOf('/');
    if (slash < 0) {
      return "";
    }
    String dir = resolveDirectory(path.substring(0, slash));
    return dir.isEmpty() ? "" : dir + "/";
  }

  private static String name(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /**
   * Resolves the symlinks of the tree in {@code dir}, never above the image root (a {@code ..} at
   * the root stays there, an absolute target starts at the root), like containerd's unpacker does.
   */
  private String resolveDirectory(String dir) throws IOException {
    if (symlinkCount == 0) {
      return dir;
    }
    Deque<String> todo = new ArrayDeque<>(List.of(dir.split("/")));
    List<String> resolved = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    int hops = 0;
    while (!todo.isEmpty()) {
      String seg = todo.pollFirst();
      if (seg.isEmpty() || seg.equals(".")) {
        continue;
      }
      if (seg.equals("..")) {
        if (!resolved.isEmpty()) {
          resolved.remove(resolved.size() - 1);
        }
        continue;
      }
      resolved.add(seg);
      current.setLength(0);
      current.append(String.join("/", resolved));
      Node n = tree.get(current.toString());
      if (n != null && n.inode != null && n.inode.meta.type() == Type.SYMLINK) {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw new IOException("too many levels of symbolic links in '" + dir + "'");
        }
        String target = n.inode.meta.linkTarget();
        resolved.remove(resolved.size() - 1);
        if (target.startsWith("/")) {
          resolved.clear();
        }
        String[] parts = target.split("/");
        for (int i = parts.length - 1; i >= 0; i--) {
          todo.addFirst(parts[i]);
        }
      }
    }
    return String.join("/", resolved);
  }

  private List<LayerEntry> finalEntries() {
    ImmutableList.Builder<LayerEntry> out = ImmutableList.builderWithExpectedSize(tree.size());
    for (Map.Entry<String, Node> e : tree.entrySet()) {
      String path = e.getKey();
      Node n = e.getValue();
      if (n.inode == null) {
        out.add(withPath(n.dir, path, null));
        continue;
      }
      Inode i = n.inode;
      LayerEntry meta = i.meta;
      if (i.owner == null) {
        i.owner = path; // the first path of an inode in canonical order holds it
        out.add(withPath(meta, path, meta.type() == Type.FILE ? rescan(i) : null));
      } else {
        out.add(
            new LayerEntry(
                path,
                Type.HARDLINK,
                meta.mode(),
                meta.uid(),
                meta.gid(),
                0,
                i.owner,
                0,
                0,
                Map.of(),
                null));
      }
    }
    return out.build();
  }

  /** Content that reads the layer again up to the file: correct, but linear in the layer's size. */
  private LayerEntry.Content rescan(Inode inode) {
    Path file = layers.get(inode.layer);
    return () -> {
      LayerReader reader = LayerReader.open(file);
      try {
        LayerEntry e = null;
        for (long i = 0; i <= inode.ordinal; i++) {
          e = reader.next();
          if (e == null) {
            break;
          }
        }
        if (e == null || !e.path().equals(inode.meta.path()) || e.type() != Type.FILE) {
          throw new IOException(
              "layer "
                  + file
                  + " changed since it was flattened: '"
                  + inode.meta.path()
                  + "' is gone");
        }
        return new FilterInputStream(e.content().open()) {
          @Override
          public void close() throws IOException {
            reader.close();
          }
        };
      } catch (IOException | RuntimeException ex) {
        reader.close();
        throw ex;
      }
    };
  }

  private static final LayerEntry.Content NO_CONTENT =
      () -> {
        throw new IOException("content is read in the second pass");
      };

  private static LayerEntry withPath(LayerEntry e, String path, LayerEntry.Content content) {
    return new LayerEntry(
        path,
        e.type(),
        e.mode(),
        e.uid(),
        e.gid(),
        e.size(),
        e.linkTarget(),
        e.devMajor(),
        e.devMinor(),
        e.xattrs(),
        content);
  }

  /**
   * A non-directory as a file system knows it: metadata, where its content is, and the path that
   * will hold it.
   */
  private static final class Inode {
    final int layer;
    final long ordinal;
    final LayerEntry meta;
    String owner;

    Inode(int layer, long ordinal, LayerEntry meta) {
      this.layer = layer;
      this.ordinal = ordinal;
      this.meta = meta;
    }
  }

  /** A path of the tree: a directory (its metadata) or a link to an inode. */
  private static final class Node {
    LayerEntry dir;
    final Inode inode;

    private Node(LayerEntry dir, Inode inode) {
      this.dir = dir;
      this.inode = inode;
    }

    static Node directory(LayerEntry dir) {
      return new Node(dir, null);
    }

    static Node of(Inode inode) {
      return new Node(null, inode);
    }
  }
}
