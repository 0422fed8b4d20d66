package dev.kiln.internal.tar;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * inside the image root, as containerd does. The tree being built is a {@link FlatTree}.
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

  private static final LayerEntry.Content NO_CONTENT =
      () -> {
        throw new IOException("content is read in the second pass");
      };

  private final List<Path> layers;
  private final FlatTree tree = new FlatTree();
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
    f.entries = f.tree.entries(i -> new RescannedContent(f.layers.get(i.layer), i));
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
    for (Inode i : tree.inodes()) {
      if (i.meta.type() == Type.FILE && i.owner != null) {
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
          visitor.visit(
              DerivedEntries.moved(next.meta, next.owner, next.meta.linkTarget(), e.content()));
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
          // Content is read in the second pass (forEach) or on its own (entries()), not now.
          LayerEntry.Content none = e.type() == Type.FILE ? NO_CONTENT : null;
          adds.add(
              new Inode(index, ordinal, DerivedEntries.moved(e, e.path(), e.linkTarget(), none)));
        }
        ordinal++;
      }
    }
    for (String w : whiteouts) {
      tree.whiteout(w);
    }
    for (String d : opaques) {
      tree.opaque(d);
    }
    for (Inode add : adds) {
      tree.add(add, file);
    }
  }
}
