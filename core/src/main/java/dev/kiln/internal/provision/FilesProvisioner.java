package dev.kiln.internal.provision;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.FilesLayer;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Provisions {@code files} layers: walks the declared sources once, hashes their content through the stat index
 * (unchanged files are not read), and on a cache miss writes them through the canonical layer writer. Pure Java,
 * no daemon. Thread-safe (stateless).
 */
public final class FilesProvisioner implements Provisioner {

  @Override
  public String kind() {
    return "files";
  }

  @Override
  public PreparedLayer prepare(Layer layer, KeyContext ctx) throws BakeException {
    FilesLayer files = (FilesLayer) layer;
    Walk walk = new Walk(files.name(), ctx);
    for (FilesLayer.Entry e : files.entries()) {
      walk.add(e);
    }
    walk.hashAll();
    return walk;
  }

  /** A planned entry: the final metadata plus, for files, the source and its digest. */
  private record Planned(LayerEntry entry, Path source, Digest[] digest, String input) {}

  /** The result of walking a files layer's sources. */
  static final class Walk implements PreparedLayer {
    private final String layer;
    private final KeyContext ctx;
    // later entries for the same path win; sorted so the fingerprint is independent of walk order
    private final TreeMap<String, Planned> planned = new TreeMap<>();
    private final Map<String, Digest> declaredInputs = new TreeMap<>();

    Walk(String layer, KeyContext ctx) {
      this.layer = layer;
      this.ctx = ctx;
    }

    void add(FilesLayer.Entry e) throws ProvisioningException {
      String target = e.target();
      switch (e.kind()) {
        case DIRECTORY -> put(LayerEntry.directory(rel(target), e.mode().getAsInt()).withOwner(e.uid(), e.gid()), null, null);
        case SYMLINK -> put(LayerEntry.symlink(rel(target), e.linkTarget()).withOwner(e.uid(), e.gid()), null, null);
        case CONTENT -> {
          LayerEntry le = LayerEntry.file(rel(target), e.mode().getAsInt(), e.bytes()).withOwner(e.uid(), e.gid());
          Digest d = Digest.of(e.bytes());
          planned.put(le.path(), new Planned(le, null, new Digest[] {d}, target));
          declaredInputs.put(target, d);
        }
        case COPY, TREE -> copy(e);
      }
    }

    private void copy(FilesLayer.Entry e) throws ProvisioningException {
      Path src = e.source();
      BasicFileAttributes attrs;
      try {
        attrs = Files.readAttributes(src, BasicFileAttributes.class);
      } catch (NoSuchFileException ex) {
        throw new ProvisioningException(layer, "source '" + src + "' does not exist (for " + e.target() + ")");
      } catch (IOException ex) {
        throw new ProvisioningException(layer, "cannot read source '" + src + "': " + ex.getMessage(), ex);
      }
      if (attrs.isDirectory()) {
        walkTree(e, src);
      } else if (attrs.isRegularFile()) {
        if (e.target().equals("/")) {
          throw new ProvisioningException(layer, "cannot copy the file '" + src + "' to the image root '/': name a file path");
        }
        int mode = e.kind() == FilesLayer.Entry.Kind.TREE ? diskMode(src) : e.mode().orElseGet(() -> defaultFileMode(src));
        file(rel(e.target()), mode, e, src, attrs.size(), e.target());
      } else {
        throw new ProvisioningException(layer, "source '" + src + "' is neither a file nor a directory");
      }
    }

    private void walkTree(FilesLayer.Entry e, Path root) throws ProvisioningException {
      String base = e.target().equals("/") ? "" : rel(e.target());
      boolean keepModes = e.kind() == FilesLayer.Entry.Kind.TREE;
      List<IOException> errors = new ArrayList<>();
      try {
        Files.walkFileTree(root, Set.of(), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes a) throws IOException {
            String p = join(base, root.relativize(dir).toString());
            if (!p.isEmpty()) {
              int mode = keepModes ? diskMode(dir) : 0755;
              put(LayerEntry.directory(p, mode).withOwner(e.uid(), e.gid()), null, null);
            }
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
            String p = join(base, root.relativize(f).toString());
            if (a.isSymbolicLink()) {
              put(LayerEntry.symlink(p, Files.readSymbolicLink(f).toString()).withOwner(e.uid(), e.gid()), null, null);
            } else if (a.isRegularFile()) {
              int mode = keepModes ? diskMode(f) : e.mode().orElseGet(() -> defaultFileMode(f));
              file(p, mode, e, f, a.size(), null);
            } else {
              throw new IOException("'" + f + "' is a special file (device, socket or pipe): declare it in code instead");
            }
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFileFailed(Path f, IOException ex) {
            errors.add(ex);
            return FileVisitResult.CONTINUE;
          }
        });
      } catch (IOException ex) {
        errors.add(ex);
      }
      if (!errors.isEmpty()) {
        IOException first = errors.get(0);
        String what = first instanceof AccessDeniedException ? "cannot read '" + first.getMessage() + "': permission denied" : first.getMessage();
        throw new ProvisioningException(layer, what, first);
      }
      declaredInputs.put(e.target(), null); // filled in by hashAll as the digest of the tree's listing
    }

    private void file(String path, int mode, FilesLayer.Entry e, Path src, long size, String input) {
      // the size from the walk's own stat: a file that changes before it is written is caught by the writer
      LayerEntry le = LayerEntry.file(path, mode, size, LayerEntry.Content.of(src)).withOwner(e.uid(), e.gid());
      planned.put(le.path(), new Planned(le, src, new Digest[1], input));
    }

    private void put(LayerEntry le, Path src, Digest d) {
      planned.put(le.path(), new Planned(le, src, new Digest[] {d}, null));
    }

    /** Hashes every file that needs it, in parallel; the stat index answers for unchanged files. */
    void hashAll() throws ProvisioningException {
      List<Planned> todo = planned.values().stream().filter(p -> p.source() != null).toList();
      try {
        todo.parallelStream().forEach(p -> {
          try {
            p.digest()[0] = ctx.files().digest(p.source());
          } catch (IOException ex) {
            throw new java.io.UncheckedIOException(ex);
          }
        });
      } catch (java.io.UncheckedIOException ex) {
        IOException io = ex.getCause();
        String msg = io instanceof AccessDeniedException ? "cannot read '" + io.getMessage() + "': permission denied" : "cannot read input: " + io;
        throw new ProvisioningException(layer, msg, io);
      }
      for (Planned p : planned.values()) {
        if (p.input() != null && p.source() != null) {
          declaredInputs.put(p.input(), p.digest()[0]);
        }
      }
      // a copied tree is listed as one input: the digest of its canonical listing
      for (Map.Entry<String, Digest> in : declaredInputs.entrySet()) {
        if (in.getValue() == null) {
          Fingerprint sub = new Fingerprint();
          String prefix = in.getKey().equals("/") ? "" : rel(in.getKey());
          planned.subMap(prefix, true, prefix + Character.MAX_VALUE, true).values().forEach(p -> describe(sub, p));
          in.setValue(sub.digest());
        }
      }
    }

    @Override
    public void fingerprint(Fingerprint fp) {
      fp.put("format", "files.v1");
      fp.put("entries", planned.size());
      for (Planned p : planned.values()) {
        describe(fp, p);
      }
      declaredInputs.forEach((name, d) -> fp.input(name, d));
    }

    private static void describe(Fingerprint fp, Planned p) {
      LayerEntry e = p.entry();
      fp.put("path", e.path()).put("type", e.type().name()).put("mode", e.mode()).put("uid", e.uid()).put("gid", e.gid());
      if (e.type() == LayerEntry.Type.SYMLINK) {
        fp.put("link", e.linkTarget());
      }
      if (e.type() == LayerEntry.Type.FILE) {
        fp.put("size", e.size()).put("content", p.digest()[0]);
      }
    }

    @Override
    public LayerBlob provision(ProvisionContext pc) throws BakeException {
      try (LayerWriter w = pc.newLayerWriter()) {
        for (Planned p : planned.values()) {
          w.add(p.entry());
        }
        return w.finish();
      } catch (IllegalArgumentException e) {
        throw new ProvisioningException(layer, e.getMessage(), e);
      } catch (IOException e) {
        throw new ProvisioningException(layer, "writing the layer failed: " + e.getMessage(), e);
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
  static int defaultFileMode(Path f) {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(f, LinkOption.NOFOLLOW_LINKS);
      return perms.contains(PosixFilePermission.OWNER_EXECUTE) ? 0755 : 0644;
    } catch (IOException e) {
      return 0644;
    }
  }

  /** The permission bits of a file on disk, including setuid, setgid and sticky. */
  static int diskMode(Path f) {
    try {
      return ((Integer) Files.getAttribute(f, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
    } catch (IOException | UnsupportedOperationException e) {
      return defaultFileMode(f);
    }
  }
}
