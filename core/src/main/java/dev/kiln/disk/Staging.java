package dev.kiln.disk;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;

/**
 * The flattened root file system of ordered layers, unpacked into a host directory for {@code
 * mke2fs -d}, with the ownership, modes and device numbers the layers declare kept beside it (the
 * host files are all owned by the current user, readable by it, and carry the host's default
 * permissions; devices and FIFOs are empty regular files). Whiteouts remove what lower layers put
 * there; an entry of a different type replaces what was there; directories merge. Nothing is ever
 * written through a symlink.
 *
 * <p>The declared metadata is written into the inodes mke2fs made, afterwards, in Java ({@link
 * Ext4Inodes.Patch}), so no root, no fakeroot and no per-file chown or chmod is needed. The host
 * file system calls run on a {@link StagingWriter} thread while the next entries are parsed. Not
 * thread-safe.
 */
final class Staging implements FsTree {
  /**
   * What a path is in the image. For a hard link, the metadata of the file it shares an inode with.
   */
  record Meta(
      Type type,
      int mode,
      int uid,
      int gid,
      int major,
      int minor,
      long size,
      String linkTarget,
      Map<String, byte[]> xattrs,
      boolean hardlink) {}

  /** Files up to this size are read into memory and written by the background writer. */
  private static final int QUEUED_FILE_MAX = 32 << 20;

  private final Path root;
  private final NavigableMap<String, Meta> entries = new TreeMap<>();
  private final byte[] buffer = new byte[1 << 20];
  private StagingWriter writer;

  Staging(Path root) throws IOException {
    this.root = Files.createDirectories(root);
  }

  private StagingWriter writer() {
    if (writer == null) {
      writer = new StagingWriter();
    }
    return writer;
  }

  /**
   * Waits for the host tree to be complete (call before anything reads it) and stops the writer
   * thread.
   */
  void finish() throws IOException {
    if (writer != null) {
      try {
        writer.drain();
      } finally {
        writer.stop();
        writer = null;
      }
    }
  }

  /**
   * Stops the writer thread (after what is queued; on failure paths, where nobody waits for the
   * tree).
   */
  void abandon() {
    if (writer != null) {
      writer.stop();
      writer = null;
    }
  }

  private void drain() throws IOException {
    if (writer != null) {
      writer.drain();
    }
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
      Path h = host(parent);
      writer().submit(() -> Files.createDirectory(h), 0);
      entries.put(parent, new Meta(Type.DIRECTORY, 0755, 0, 0, 0, 0, 0, "", Map.of(), false));
    } else if (m.type() != Type.DIRECTORY) {
      throw new IOException(
          ParentNotADirectory.message(
              layer, p, parent, m.type(), m.type() == Type.SYMLINK ? m.linkTarget() : null));
    }
  }

  private void create(LayerEntry e, String layer) throws IOException {
    Path h = host(e.path());
    Meta meta =
        new Meta(
            e.type(),
            e.mode(),
            e.uid(),
            e.gid(),
            e.devMajor(),
            e.devMinor(),
            e.size(),
            e.linkTarget(),
            e.xattrs(),
            false);
    StagingWriter w = writer();
    switch (e.type()) {
      case DIRECTORY -> {
        Meta old = entries.get(e.path());
        if (old == null || old.type() != Type.DIRECTORY) {
          w.submit(() -> Files.createDirectory(h), 0);
        }
      }
      case FILE -> {
        if (e.size() <= QUEUED_FILE_MAX) {
          byte[] data = new byte[(int) e.size()];
          try (InputStream in = e.content().open()) {
            int n = in.readNBytes(data, 0, data.length);
            if (n != data.length || in.read() >= 0) {
              throw new IOException(
                  "layer "
                      + layer
                      + ": /"
                      + e.path()
                      + " declares "
                      + e.size()
                      + " bytes but has "
                      + (n != data.length ? n : "more"));
            }
          }
          w.submit(
              () -> {
                try (OutputStream out =
                    Files.newOutputStream(
                        h, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                  out.write(data);
                }
              },
              (data.length >> 10) + 1);
        } else {
          w.drain();
          try (InputStream in = e.content().open();
              OutputStream out =
                  Files.newOutputStream(
                      h, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            int n;
            while ((n = in.read(buffer)) > 0) {
              out.write(buffer, 0, n);
            }
          }
        }
      }
      case SYMLINK -> {
        Path target = Path.of(e.linkTarget());
        w.submit(() -> Files.createSymbolicLink(h, target), 0);
      }
      case HARDLINK -> {
        Meta target = entries.get(e.linkTarget());
        if (target == null || target.type() != Type.FILE) {
          throw new IOException(
              "layer "
                  + layer
                  + ": hard link /"
                  + e.path()
                  + " points at /"
                  + e.linkTarget()
                  + ", which is not a regular file of the image");
        }
        Path existing = host(e.linkTarget());
        w.submit(() -> Files.createLink(h, existing), 0);
        meta =
            new Meta(
                Type.FILE,
                target.mode(),
                target.uid(),
                target.gid(),
                0,
                0,
                target.size(),
                "",
                target.xattrs(),
                true);
      }
      case CHAR_DEVICE, BLOCK_DEVICE, FIFO -> w.submit(() -> Files.createFile(h), 0);
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
    drain();
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
  public byte[] head(String path, int max) throws IOException {
    try (java.io.InputStream in = Files.newInputStream(host(path))) {
      return in.readNBytes(max);
    }
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

  /**
   * Deletes the host directory ({@code rm -rf} is several times faster than a Java tree walk here).
   */
  void delete() throws IOException {
    abandon();
    ScratchSpace.remove(root);
  }
}
