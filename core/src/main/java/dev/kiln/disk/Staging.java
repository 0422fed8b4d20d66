package dev.kiln.disk;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.io.OutputStream;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;

/**
 * The flattened root file system of ordered layers, unpacked into a host directory for {@code mke2fs -d}, with the
 * ownership, modes and device numbers the layers declare kept beside it (the host files are all owned by the
 * current user and readable by it). Whiteouts remove what lower layers put there; an entry of a different type
 * replaces what was there; directories merge. Nothing is ever written through a symlink.
 *
 * <p>The declared metadata reaches mke2fs through a fakeroot state file ({@link #writeFakerootState}), keyed by the
 * host inode, so no root and no per-file chown is needed. Not thread-safe.
 */
final class Staging implements FsTree {
  /** What a path is in the image. For a hard link, the metadata of the file it shares an inode with. */
  record Meta(Type type, int mode, int uid, int gid, int major, int minor, long size, String linkTarget,
      Map<String, byte[]> xattrs, boolean hardlink) {}

  private final Path root;
  private final NavigableMap<String, Meta> entries = new TreeMap<>();
  private final byte[] buffer = new byte[1 << 20];

  Staging(Path root) throws IOException {
    this.root = Files.createDirectories(root);
  }

  Path root() {
    return root;
  }

  NavigableMap<String, Meta> entries() {
    return entries;
  }

  /** Applies one layer on top of what is staged. */
  void apply(LayerReader reader, String layerName) throws IOException {
    Set<String> added = new HashSet<>();
    LayerEntry e;
    while ((e = reader.next()) != null) {
      String p = e.path();
      switch (e.type()) {
        case WHITEOUT -> {
          if (!added.contains(p)) {
            removeTree(p);
          }
        }
        case OPAQUE_WHITEOUT -> {
          for (String child : new ArrayList<>(descendants(p).keySet())) {
            if (!added.contains(child) && entries.containsKey(child) && isDirectChild(p, child)) {
              removeTree(child);
            }
          }
        }
        default -> {
          ensureParent(p, layerName);
          Meta old = entries.get(p);
          if (old != null && !(old.type() == Type.DIRECTORY && e.type() == Type.DIRECTORY)) {
            removeTree(p);
          }
          create(e, layerName);
          added.add(p);
        }
      }
    }
  }

  private static boolean isDirectChild(String dir, String p) {
    return p.indexOf('/', dir.length() + 1) < 0;
  }

  private NavigableMap<String, Meta> descendants(String p) {
    return entries.subMap(p + "/", true, p + "0", false);
  }

  private void ensureParent(String p, String layer) throws IOException {
    int slash = p.lastIndexOf('/');
    if (slash < 0) {
      return;
    }
    String parent = p.substring(0, slash);
    Meta m = entries.get(parent);
    if (m == null) {
      ensureParent(parent, layer);
      Files.createDirectory(host(parent));
      entries.put(parent, new Meta(Type.DIRECTORY, 0755, 0, 0, 0, 0, 0, "", Map.of(), false));
    } else if (m.type() != Type.DIRECTORY) {
      throw new IOException(
          "layer " + layer + ": entry /" + p + " would be written through /" + parent + ", which is a "
              + m.type().name().toLowerCase() + (m.type() == Type.SYMLINK ? " (to " + m.linkTarget() + ")" : "")
              + ", not a directory");
    }
  }

  private void create(LayerEntry e, String layer) throws IOException {
    Path h = host(e.path());
    Meta meta =
        new Meta(e.type(), e.mode(), e.uid(), e.gid(), e.devMajor(), e.devMinor(), e.size(), e.linkTarget(),
            e.xattrs(), false);
    switch (e.type()) {
      case DIRECTORY -> {
        if (!Files.isDirectory(h, LinkOption.NOFOLLOW_LINKS)) {
          Files.createDirectory(h);
        }
      }
      case FILE -> {
        try (InputStream in = e.content().open();
            OutputStream out =
                Files.newOutputStream(h, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
          int n;
          while ((n = in.read(buffer)) > 0) {
            out.write(buffer, 0, n);
          }
        }
      }
      case SYMLINK -> Files.createSymbolicLink(h, Path.of(e.linkTarget()));
      case HARDLINK -> {
        Meta target = entries.get(e.linkTarget());
        if (target == null || target.type() != Type.FILE) {
          throw new IOException(
              "layer " + layer + ": hard link /" + e.path() + " points at /" + e.linkTarget()
                  + ", which is not a regular file of the image");
        }
        Files.createLink(h, host(e.linkTarget()));
        meta = new Meta(Type.FILE, target.mode(), target.uid(), target.gid(), 0, 0, target.size(), "",
            target.xattrs(), true);
      }
      case CHAR_DEVICE, BLOCK_DEVICE, FIFO -> Files.createFile(h);
      default -> throw new IllegalStateException(e.type().toString());
    }
    entries.put(e.path(), meta);
  }

  private void removeTree(String p) throws IOException {
    Meta m = entries.remove(p);
    if (m == null) {
      return;
    }
    descendants(p).clear();
    Path h = host(p);
    if (m.type() == Type.DIRECTORY) {
      Files.walkFileTree(
          h,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
              Files.delete(f);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException ex) throws IOException {
              if (ex != null) {
                throw ex;
              }
              Files.delete(d);
              return FileVisitResult.CONTINUE;
            }
          });
    } else {
      Files.delete(h);
    }
  }

  private Path host(String p) {
    return root.resolve(p);
  }

  /** Bytes of file content, counting hard-linked files once. */
  long contentBytes() {
    long n = 0;
    for (Meta m : entries.values()) {
      if (m.type() == Type.FILE && !m.hardlink()) {
        n += m.size();
      }
    }
    return n;
  }

  /**
   * File system blocks of {@code blockSize} the content needs beyond inodes: file data rounded up to whole blocks,
   * one or more blocks per directory, a block for each long symlink target and for each inode with extended
   * attributes.
   */
  long dataBlocks(int blockSize) {
    long blocks = 1;
    Map<String, Long> dirBytes = new TreeMap<>();
    for (Map.Entry<String, Meta> en : entries.entrySet()) {
      Meta m = en.getValue();
      String p = en.getKey();
      int slash = p.lastIndexOf('/');
      String parent = slash < 0 ? "" : p.substring(0, slash);
      dirBytes.merge(parent, 12L + ((p.length() - slash - 1 + 3) & ~3L), Long::sum);
      switch (m.type()) {
        case FILE -> {
          if (!m.hardlink()) {
            long b = (m.size() + blockSize - 1) / blockSize;
            blocks += b + b / 340; // extent tree blocks for very fragmented large files
          }
        }
        case SYMLINK -> blocks += m.linkTarget().length() >= 60 ? 1 : 0;
        default -> {}
      }
      if (!m.xattrs().isEmpty()) {
        blocks++;
      }
    }
    for (long bytes : dirBytes.values()) {
      blocks += 1 + bytes * 5 / 4 / blockSize; // htree index blocks and slack
    }
    return blocks;
  }

  /** Paths with extended attributes, in order. */
  List<Map.Entry<String, Meta>> withXattrs() {
    List<Map.Entry<String, Meta>> out = new ArrayList<>();
    for (Map.Entry<String, Meta> en : entries.entrySet()) {
      if (!en.getValue().xattrs().isEmpty() && !en.getValue().hardlink()) {
        out.add(en);
      }
    }
    return out;
  }

  /**
   * Writes a fakeroot state file ({@code fakeroot -i FILE}) that gives every staged inode its declared type, mode,
   * owner and device number; the root directory is 0755 root:root.
   */
  void writeFakerootState(Path file) throws IOException {
    Set<String> seen = new HashSet<>();
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII)) {
      line(w, seen, root, new Meta(Type.DIRECTORY, 0755, 0, 0, 0, 0, 0, "", Map.of(), false));
      for (Map.Entry<String, Meta> en : entries.entrySet()) {
        line(w, seen, host(en.getKey()), en.getValue());
      }
    }
  }

  private static void line(BufferedWriter w, Set<String> seen, Path h, Meta m) throws IOException {
    Map<String, Object> a = Files.readAttributes(h, "unix:dev,ino,nlink", LinkOption.NOFOLLOW_LINKS);
    long dev = (Long) a.get("dev");
    long ino = (Long) a.get("ino");
    if (!seen.add(dev + ":" + ino)) {
      return;
    }
    int fmt =
        switch (m.type()) {
          case DIRECTORY -> 0040000;
          case FILE -> 0100000;
          case SYMLINK -> 0120000;
          case CHAR_DEVICE -> 0020000;
          case BLOCK_DEVICE -> 0060000;
          case FIFO -> 0010000;
          default -> throw new IllegalStateException(m.type().toString());
        };
    int perm = m.type() == Type.SYMLINK ? 0777 : m.mode();
    long rdev = makedev(m.major(), m.minor());
    w.write(
        "dev=" + Long.toHexString(dev) + ",ino=" + ino + ",mode=" + Integer.toOctalString(fmt | perm) + ",uid="
            + m.uid() + ",gid=" + m.gid() + ",nlink=" + a.get("nlink") + ",rdev=" + Long.toUnsignedString(rdev)
            + "\n");
  }

  /** glibc's makedev. */
  static long makedev(long major, long minor) {
    return ((major & 0xfffL) << 8) | (minor & 0xffL) | ((minor & ~0xffL) << 12) | ((major & ~0xfffL) << 32);
  }

  @Override
  public Type typeOf(String path) {
    Meta m = entries.get(path);
    return m == null ? null : m.type();
  }

  @Override
  public String linkTarget(String path) {
    return entries.get(path).linkTarget();
  }

  @Override
  public List<String> list(String dir) {
    List<String> out = new ArrayList<>();
    NavigableMap<String, Meta> sub = dir.isEmpty() ? entries : descendants(dir);
    int from = dir.isEmpty() ? 0 : dir.length() + 1;
    for (String p : sub.keySet()) {
      if (p.indexOf('/', from) < 0) {
        out.add(p.substring(from));
      }
    }
    return out;
  }

  /** Deletes the host directory ({@code rm -rf} is several times faster than a Java tree walk here). */
  void delete() throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try {
      Process p = new ProcessBuilder("rm", "-rf", "--one-file-system", "--", root.toString())
          .redirectErrorStream(true).start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        throw new IOException("could not delete the staging directory " + root + ": " + out.strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while deleting " + root, e);
    }
  }
}
