package dev.kiln.disk;

import dev.kiln.spi.LayerEntry.Type;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The directory tree of an ext4 file system in a disk image, read in Java ({@link Ext4Dirs}) one
 * directory at a time as the caller needs it, and changed by the caller as it plans commands, so
 * that it always shows the state the plan has reached. Entries that come from the disk carry their
 * inode number (to read a symlink target or a directory later); entries the plan creates carry what
 * the plan gave them. Not thread-safe.
 */
final class Ext4Tree implements FsTree {
  /**
   * One directory entry.
   *
   * @param ino the inode on the disk read, or 0 for an entry the plan created
   * @param linkTarget a symlink's target when the plan created it, else null (read from the disk
   *     when asked)
   */
  record Node(Type type, int mode, int uid, int gid, long ino, String linkTarget) {
    Node(Type type, int mode, int uid, int gid) {
      this(type, mode, uid, gid, 0, null);
    }
  }

  private final Ext4Dirs disk;

  /**
   * Directory path ("" = root) -> its entries; only directories that were read or created are here.
   */
  private final Map<String, Map<String, Node>> dirs = new HashMap<>();

  Ext4Tree(Ext4Dirs disk) {
    this.disk = disk;
  }

  static String parent(String p) {
    int s = p.lastIndexOf('/');
    return s < 0 ? "" : p.substring(0, s);
  }

  static String name(String p) {
    return p.substring(p.lastIndexOf('/') + 1);
  }

  static String child(String dir, String name) {
    return dir.isEmpty() ? name : dir + "/" + name;
  }

  /** Reads every directory on the way to each path. */
  void load(Collection<String> paths) throws DiskException {
    for (String p : paths) {
      loadDir(parent(p));
    }
  }

  /**
   * Reads directory {@code d} and the directories on the way to it, if they exist; false if it does
   * not.
   */
  private boolean loadDir(String d) throws DiskException {
    if (dirs.containsKey(d)) {
      return true;
    }
    if (d.isEmpty()) {
      read("", Ext4Dirs.ROOT_INO);
      return true;
    }
    if (!loadDir(parent(d))) {
      return false;
    }
    Node n = dirs.get(parent(d)).get(name(d));
    if (n == null || n.type() != Type.DIRECTORY) {
      return false;
    }
    if (n.ino() == 0) { // created by the plan and since removed from the map: empty
      dirs.put(d, new LinkedHashMap<>());
    } else {
      read(d, n.ino());
    }
    return true;
  }

  /** Reads every directory of the subtree at {@code dir}. */
  void loadTree(String dir) throws DiskException {
    if (!loadDir(dir)) {
      return;
    }
    for (Map.Entry<String, Node> e : new ArrayList<>(dirs.get(dir).entrySet())) {
      if (e.getValue().type() == Type.DIRECTORY) {
        loadTree(child(dir, e.getKey()));
      }
    }
  }

  private void read(String d, long ino) throws DiskException {
    try {
      Map<String, Node> entries = new LinkedHashMap<>();
      for (Ext4Dirs.Dirent e : disk.list(ino)) {
        ByteBuffer inode = disk.inodes().inode(e.ino());
        int mode = inode.getShort(0) & 0xffff;
        int uid = (inode.getShort(0x2) & 0xffff) | ((inode.getShort(0x78) & 0xffff) << 16);
        int gid = (inode.getShort(0x18) & 0xffff) | ((inode.getShort(0x7A) & 0xffff) << 16);
        entries.put(e.name(), new Node(typeOfMode(mode), mode & 07777, uid, gid, e.ino(), null));
      }
      dirs.put(d, entries);
    } catch (IOException ex) {
      throw new DiskException(
          "could not read directory /" + d + " of the base disk: " + ex.getMessage(), ex);
    }
  }

  static Type typeOfMode(int mode) {
    return switch (mode & 0170000) {
      case 0040000 -> Type.DIRECTORY;
      case 0120000 -> Type.SYMLINK;
      case 0020000 -> Type.CHAR_DEVICE;
      case 0060000 -> Type.BLOCK_DEVICE;
      case 0010000 -> Type.FIFO;
      default -> Type.FILE;
    };
  }

  Node node(String p) throws DiskException {
    if (!loadDir(parent(p))) {
      return null;
    }
    return dirs.get(parent(p)).get(name(p));
  }

  /** Entries of a directory (name -> node); empty if it is not a directory. */
  Map<String, Node> children(String dir) throws DiskException {
    return loadDir(dir) ? dirs.get(dir) : Map.of();
  }

  void put(String p, Node n) {
    Map<String, Node> m = dirs.get(parent(p));
    if (m != null) {
      m.put(name(p), n);
    }
    if (n.type() == Type.DIRECTORY && n.ino() == 0) {
      dirs.putIfAbsent(p, new LinkedHashMap<>());
    }
  }

  void remove(String p) {
    Map<String, Node> m = dirs.get(parent(p));
    if (m != null) {
      m.remove(name(p));
    }
    dirs.keySet().removeIf(k -> k.equals(p) || k.startsWith(p + "/"));
  }

  @Override
  public Type typeOf(String path) throws DiskException {
    Node n = node(path);
    return n == null ? null : n.type();
  }

  @Override
  public String linkTarget(String path) throws IOException, DiskException {
    Node n = node(path);
    if (n == null || n.type() != Type.SYMLINK) {
      throw new IOException("/" + path + " is not a symlink");
    }
    return n.linkTarget() != null ? n.linkTarget() : disk.readSymlink(n.ino());
  }

  @Override
  public List<String> list(String dir) throws DiskException {
    return new ArrayList<>(children(dir).keySet());
  }
}
