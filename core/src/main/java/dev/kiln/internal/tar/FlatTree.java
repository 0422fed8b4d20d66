package dev.kiln.internal.tar;

import com.google.common.collect.ImmutableList;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The root file system a {@link LayerFlattener} builds, changed entry by entry as a container
 * runtime applies layers: each path is a directory (its metadata) or a link to an {@link Inode},
 * kept in {@link PathOrder} so a subtree is contiguous, right after its root. Parent paths are
 * resolved through the tree's symlinks without ever leaving the image root, as containerd's
 * unpacker does; missing parent directories are created (0755, 0:0). Not thread-safe.
 */
final class FlatTree {
  private static final int MAX_SYMLINK_HOPS = 40;

  private final TreeMap<String, Node> tree = new TreeMap<>(PathOrder.COMPARATOR);
  private int symlinkCount;

  /** Deletes {@code path} (resolved) and everything under it. */
  void whiteout(String path) throws IOException {
    removeSubtree(resolveParent(path) + name(path), true);
  }

  /** Deletes what is under directory {@code dir} (resolved), keeping the directory. */
  void opaque(String dir) throws IOException {
    String resolved = resolveDirectory(dir);
    if (!resolved.isEmpty()) {
      removeSubtree(resolved, false);
    }
  }

  /**
   * Applies the entry of {@code add} from layer {@code file}: a directory over a directory updates
   * its metadata only; anything else replaces the path and its subtree; a hard link makes the path
   * one more link to its target's inode.
   */
  void add(Inode add, Path file) throws IOException {
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

  /**
   * The entries of the tree in canonical order: the first path of each inode holds it (a FILE with
   * the content {@code content} gives for the inode), its other paths are hard links to that one.
   * Sets each inode's {@link Inode#owner}; call once.
   */
  List<LayerEntry> entries(Function<Inode, LayerEntry.Content> content) {
    ImmutableList.Builder<LayerEntry> out = ImmutableList.builderWithExpectedSize(tree.size());
    for (Map.Entry<String, Node> e : tree.entrySet()) {
      String path = e.getKey();
      Node n = e.getValue();
      if (n.inode == null) {
        out.add(DerivedEntries.moved(n.dir, path, n.dir.linkTarget(), null));
        continue;
      }
      Inode i = n.inode;
      LayerEntry meta = i.meta;
      if (i.owner == null) {
        i.owner = path; // the first path of an inode in canonical order holds it
        LayerEntry.Content c = meta.type() == Type.FILE ? content.apply(i) : null;
        out.add(DerivedEntries.moved(meta, path, meta.linkTarget(), c));
      } else {
        out.add(DerivedEntries.hardLink(path, meta, i.owner));
      }
    }
    return out.build();
  }

  /**
   * The inode of every path that is not a directory: an inode with several paths comes up for each.
   */
  List<Inode> inodes() {
    List<Inode> inodes = new ArrayList<>();
    for (Node n : tree.values()) {
      if (n.inode != null) {
        inodes.add(n.inode);
      }
    }
    return inodes;
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
      Node n = tree.get(String.join("/", resolved));
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
