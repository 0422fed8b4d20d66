package dev.kiln.disk;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the entries of layers added on top of an existing disk into {@code debugfs -w} commands
 * that change its ext4 file system in place: write, mkdir, symlink, mknod, ln, rm/rmdir (whiteouts,
 * replaced entries), sif for mode, owner and link counts, ea_set for extended attributes. Within a
 * layer, its whiteouts apply first (they delete from the layers below), then its entries in order.
 * File contents are spooled to {@code spoolDir}, because debugfs copies from host files. Not
 * thread-safe.
 */
final class ExtendPlan {
  private final Ext4Tree tree;
  private final Path spoolDir;
  private final List<String> commands = new ArrayList<>();
  private final Map<String, Integer> linkCounts = new HashMap<>();

  /**
   * Inodes of the disk read whose regular files the plan removes -> links removed (their blocks may
   * be reused).
   */
  private final Map<Long, Integer> removedFiles = new HashMap<>();

  private int spooled;
  private long bytes;

  ExtendPlan(Ext4Tree tree, Path spoolDir) {
    this.tree = tree;
    this.spoolDir = spoolDir;
  }

  List<String> commands() {
    return commands;
  }

  /**
   * Inode numbers, on the disk the plan was made against, of the regular files it removes links to,
   * with the number of links removed.
   */
  Map<Long, Integer> removedFiles() {
    return removedFiles;
  }

  /** Bytes of file content the plan writes. */
  long bytes() {
    return bytes;
  }

  /** One entry read from a layer, its content (if a file) spooled to a host file. */
  private record Spooled(LayerEntry entry, Path content) {}

  void addLayer(LayerReader reader, String layerName) throws IOException, DiskException {
    List<Spooled> entries = new ArrayList<>();
    LayerEntry e;
    while ((e = reader.next()) != null) {
      Path c = null;
      if (e.type() == Type.FILE) {
        c = spoolDir.resolve("f" + (spooled++));
        try (InputStream in = e.content().open()) {
          Files.copy(in, c, StandardCopyOption.REPLACE_EXISTING);
        }
        bytes += e.size();
      }
      entries.add(new Spooled(e, c));
    }
    List<String> touched = new ArrayList<>();
    for (Spooled s : entries) {
      touched.add(s.entry().path());
      if (s.entry().type() == Type.HARDLINK) {
        touched.add(s.entry().linkTarget());
      }
    }
    tree.load(touched);
    for (Spooled s : entries) {
      LayerEntry en = s.entry();
      if (en.type() == Type.WHITEOUT) {
        removeTree(en.path());
      } else if (en.type() == Type.OPAQUE_WHITEOUT) {
        Ext4Tree.Node n = tree.node(en.path());
        if (n != null && n.type() == Type.DIRECTORY) {
          for (String child : new ArrayList<>(tree.children(en.path()).keySet())) {
            removeTree(Ext4Tree.child(en.path(), child));
          }
        }
      }
    }
    for (Spooled s : entries) {
      LayerEntry en = s.entry();
      if (en.type() != Type.WHITEOUT && en.type() != Type.OPAQUE_WHITEOUT) {
        apply(en, s.content(), layerName);
      }
    }
  }

  private void apply(LayerEntry e, Path content, String layer) throws DiskException {
    String p = e.path();
    ensureParent(p, layer);
    Ext4Tree.Node old = tree.node(p);
    String abs = Debugfs.q("/" + p);
    if (old != null && old.type() == Type.DIRECTORY && e.type() == Type.DIRECTORY) {
      if (old.mode() != e.mode() || old.uid() != e.uid() || old.gid() != e.gid()) {
        owner(abs, 0040000 | e.mode(), e.uid(), e.gid());
        tree.put(p, new Ext4Tree.Node(Type.DIRECTORY, e.mode(), e.uid(), e.gid(), old.ino(), null));
      }
      xattrs(e, abs);
      return;
    }
    if (old != null) {
      removeTree(p);
    }
    String parent = "/" + Ext4Tree.parent(p);
    String name = Debugfs.q(Ext4Tree.name(p));
    commands.add("cd " + Debugfs.q(parent));
    int fmt;
    switch (e.type()) {
      case FILE -> {
        commands.add("write " + Debugfs.q(content.toString()) + " " + name);
        linkCounts.put(p, 1);
        fmt = 0100000;
      }
      case DIRECTORY -> {
        commands.add("mkdir " + name);
        fmt = 0040000;
      }
      case SYMLINK -> {
        commands.add("symlink " + name + " " + Debugfs.q(e.linkTarget()));
        fmt = 0120000;
      }
      case HARDLINK -> {
        Integer n = linkCounts.get(e.linkTarget());
        if (n == null) {
          throw new DiskException(
              "layer "
                  + layer
                  + ": hard link /"
                  + p
                  + " points at /"
                  + e.linkTarget()
                  + ", which is not a file added by the layers being applied");
        }
        commands.add("ln " + Debugfs.q("/" + e.linkTarget()) + " " + name);
        commands.add("cd /");
        commands.add("sif " + Debugfs.q("/" + e.linkTarget()) + " links_count " + (n + 1));
        linkCounts.put(e.linkTarget(), n + 1);
        Ext4Tree.Node t = tree.node(e.linkTarget());
        tree.put(p, t);
        return;
      }
      case CHAR_DEVICE, BLOCK_DEVICE, FIFO -> {
        String kind =
            e.type() == Type.CHAR_DEVICE ? "c" : e.type() == Type.BLOCK_DEVICE ? "b" : "p";
        commands.add(
            "mknod "
                + name
                + " "
                + kind
                + (e.type() == Type.FIFO ? "" : " " + e.devMajor() + " " + e.devMinor()));
        fmt =
            e.type() == Type.CHAR_DEVICE
                ? 0020000
                : e.type() == Type.BLOCK_DEVICE ? 0060000 : 0010000;
      }
      default -> throw new IllegalStateException(e.type().toString());
    }
    commands.add("cd /");
    int perm = e.type() == Type.SYMLINK ? 0777 : e.mode();
    owner(abs, fmt | perm, e.uid(), e.gid());
    tree.put(
        p,
        new Ext4Tree.Node(
            e.type(), perm, e.uid(), e.gid(), 0, e.type() == Type.SYMLINK ? e.linkTarget() : null));
    xattrs(e, abs);
  }

  private void owner(String abs, int mode, int uid, int gid) {
    commands.add("sif " + abs + " mode 0" + Integer.toOctalString(mode));
    commands.add("sif " + abs + " uid " + uid);
    commands.add("sif " + abs + " gid " + gid);
  }

  private void xattrs(LayerEntry e, String abs) throws DiskException {
    for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
      Path v = spoolDir.resolve("x" + (spooled++));
      try {
        Files.write(v, x.getValue());
      } catch (IOException ex) {
        throw new DiskException("could not spool an extended attribute: " + ex.getMessage(), ex);
      }
      commands.add(
          "ea_set -f " + Debugfs.q(v.toString()) + " " + abs + " " + Debugfs.q(x.getKey()));
    }
  }

  /** Missing parents become 0755 root directories; a parent that is not a directory is an error. */
  private void ensureParent(String p, String layer) throws DiskException {
    String parent = Ext4Tree.parent(p);
    if (parent.isEmpty()) {
      return;
    }
    Ext4Tree.Node n = tree.node(parent);
    if (n == null) {
      ensureParent(parent, layer);
      commands.add("cd " + Debugfs.q("/" + Ext4Tree.parent(parent)));
      commands.add("mkdir " + Debugfs.q(Ext4Tree.name(parent)));
      commands.add("cd /");
      owner(Debugfs.q("/" + parent), 0040755, 0, 0);
      tree.put(parent, new Ext4Tree.Node(Type.DIRECTORY, 0755, 0, 0));
    } else if (n.type() != Type.DIRECTORY) {
      throw new DiskException(ParentNotADirectory.message(layer, p, parent, n.type(), null));
    }
  }

  /** Removes a path and, for a directory, everything below it (children first). */
  private void removeTree(String p) throws DiskException {
    Ext4Tree.Node n = tree.node(p);
    if (n == null) {
      return;
    }
    if (n.type() == Type.DIRECTORY) {
      tree.loadTree(p);
      for (String child : new ArrayList<>(tree.children(p).keySet())) {
        removeTree(Ext4Tree.child(p, child));
      }
      commands.add("rmdir " + Debugfs.q("/" + p));
    } else {
      if (n.type() == Type.FILE && n.ino() != 0) {
        removedFiles.merge(n.ino(), 1, Integer::sum);
      }
      commands.add("rm " + Debugfs.q("/" + p));
      linkCounts.computeIfPresent(p, (k, v) -> null);
    }
    tree.remove(p);
  }
}
