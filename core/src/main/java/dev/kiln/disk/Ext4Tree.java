package dev.kiln.disk;

import dev.kiln.spi.LayerEntry.Type;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The directory tree of an ext4 file system in a disk image, read through {@code debugfs ls -p} one directory at a
 * time (in batches), and changed by the caller as it plans commands, so that it always shows the state the plan has
 * reached. Not thread-safe.
 */
final class Ext4Tree implements FsTree {
  /** One directory entry. */
  record Node(Type type, int mode, int uid, int gid) {}

  private final Debugfs debugfs;
  private final Path workDir;
  /** Directory path ("" = root) -> its entries; only directories that were read or created are here. */
  private final Map<String, Map<String, Node>> dirs = new HashMap<>();

  Ext4Tree(Debugfs debugfs, Path workDir) {
    this.debugfs = debugfs;
    this.workDir = workDir;
  }

  static String parent(String p) {
    int s = p.lastIndexOf('/');
    return s < 0 ? "" : p.substring(0, s);
  }

  static String name(String p) {
    return p.substring(p.lastIndexOf('/') + 1);
  }

  /** Reads every directory on the way to each path (level by level, one debugfs run per level). */
  void load(Collection<String> paths) throws DiskException {
    List<String> wanted = new ArrayList<>();
    for (String p : paths) {
      String d = parent(p);
      while (true) {
        wanted.add(d);
        if (d.isEmpty()) {
          break;
        }
        d = parent(d);
      }
    }
    wanted.sort((a, b) -> Integer.compare(depth(a), depth(b)));
    int i = 0;
    while (i < wanted.size()) {
      int level = depth(wanted.get(i));
      List<String> batch = new ArrayList<>();
      while (i < wanted.size() && depth(wanted.get(i)) == level) {
        String d = wanted.get(i++);
        if (!dirs.containsKey(d) && !batch.contains(d) && isDirectory(d)) {
          batch.add(d);
        }
      }
      read(batch);
    }
  }

  /** Reads every directory of the subtree at {@code dir}. */
  void loadTree(String dir) throws DiskException {
    List<String> level = new ArrayList<>(List.of(dir));
    while (!level.isEmpty()) {
      List<String> batch = new ArrayList<>();
      for (String d : level) {
        if (!dirs.containsKey(d)) {
          batch.add(d);
        }
      }
      read(batch);
      List<String> next = new ArrayList<>();
      for (String d : level) {
        for (Map.Entry<String, Node> e : dirs.get(d).entrySet()) {
          if (e.getValue().type() == Type.DIRECTORY) {
            next.add(child(d, e.getKey()));
          }
        }
      }
      level = next;
    }
  }

  static String child(String dir, String name) {
    return dir.isEmpty() ? name : dir + "/" + name;
  }

  private static int depth(String p) {
    return p.isEmpty() ? 0 : p.split("/").length;
  }

  private boolean isDirectory(String d) {
    if (d.isEmpty()) {
      return true;
    }
    Map<String, Node> parent = dirs.get(parent(d));
    Node n = parent == null ? null : parent.get(name(d));
    return n != null && n.type() == Type.DIRECTORY;
  }

  private void read(List<String> batch) throws DiskException {
    if (batch.isEmpty()) {
      return;
    }
    List<String> cmds = new ArrayList<>();
    for (String d : batch) {
      cmds.add("ls -p " + Debugfs.q("/" + d));
    }
    List<String> outs = debugfs.run(cmds, false);
    for (int i = 0; i < batch.size(); i++) {
      Map<String, Node> entries = new LinkedHashMap<>();
      for (String line : outs.get(i).split("\n")) {
        if (!line.startsWith("/") || line.length() < 2) {
          continue;
        }
        // /ino/mode/uid/gid/name/size/
        String[] head = line.substring(1).split("/", 5);
        if (head.length < 5) {
          continue;
        }
        String rest = head[4];
        int end = rest.lastIndexOf('/', rest.length() - 2);
        String nm = rest.substring(0, end);
        if (nm.equals(".") || nm.equals("..")) {
          continue;
        }
        int mode = Integer.parseInt(head[1], 8);
        entries.put(nm, new Node(typeOfMode(mode), mode & 07777, Integer.parseInt(head[2]), Integer.parseInt(head[3])));
      }
      dirs.put(batch.get(i), entries);
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
    String d = parent(p);
    if (!dirs.containsKey(d)) {
      load(List.of(p));
    }
    Map<String, Node> m = dirs.get(d);
    return m == null ? null : m.get(name(p));
  }

  /** Entries of a loaded directory (name -> node). */
  Map<String, Node> children(String dir) throws DiskException {
    if (!dirs.containsKey(dir) && (dir.isEmpty() || isDirectory(dir))) {
      read(List.of(dir));
    }
    return dirs.getOrDefault(dir, Map.of());
  }

  void put(String p, Node n) {
    Map<String, Node> m = dirs.get(parent(p));
    if (m != null) {
      m.put(name(p), n);
    }
    if (n.type() == Type.DIRECTORY) {
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
    String out = debugfs.run(List.of("stat " + Debugfs.q("/" + path)), false).get(0);
    for (String line : out.split("\n")) {
      if (line.startsWith("Fast link dest: \"")) {
        return line.substring("Fast link dest: \"".length(), line.length() - 1);
      }
    }
    Path tmp = Files.createTempFile(workDir, "link", ".dump");
    try {
      Files.delete(tmp);
      debugfs.run(List.of("dump " + Debugfs.q("/" + path) + " " + Debugfs.q(tmp.toString())), false);
      return new String(Files.readAllBytes(tmp), StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  @Override
  public List<String> list(String dir) throws DiskException {
    if (!dir.isEmpty() && !isDirectoryLoaded(dir)) {
      return List.of();
    }
    return new ArrayList<>(children(dir).keySet());
  }

  private boolean isDirectoryLoaded(String dir) throws DiskException {
    Node n = node(dir);
    return n != null && n.type() == Type.DIRECTORY;
  }
}
