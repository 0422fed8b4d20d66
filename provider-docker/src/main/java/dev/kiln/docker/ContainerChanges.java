package dev.kiln.docker;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.spi.LayerWriter;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Turns what a container changed ({@code docker diff}: added, changed and deleted paths) plus the
 * container's exported file system into the entries of a layer: added and changed paths with their
 * content and metadata as they are in the container, deletions as whiteouts.
 *
 * <p>Left out: what Docker itself puts into every container ({@code /etc/hostname}, {@code
 * /etc/hosts}, {@code /etc/resolv.conf}, {@code /etc/mtab}, {@code /.dockerenv}, {@code /proc},
 * {@code /sys}, {@code /dev}), the mount points of inputs and secrets, and the directories Docker
 * created only to hold those mount points. A directory that merely holds a mount point and is
 * otherwise unchanged is left out too, even if the commands changed its mode, which is the one
 * change this cannot tell apart.
 *
 * <p>A changed file that is a hard link to a file the commands did not change needs that file's
 * content, which the export may have shown before it was known to be needed: such paths are
 * returned by {@link #write} to be fetched one by one. Not thread-safe.
 */
final class ContainerChanges {
  /** A line of {@code docker diff}. */
  enum Kind {
    CHANGED,
    ADDED,
    DELETED;

    /** docker's ChangeLog kind: 0 modified, 1 added, 2 deleted. */
    static Kind of(int dockerKind) {
      return switch (dockerKind) {
        case 0 -> CHANGED;
        case 1 -> ADDED;
        case 2 -> DELETED;
        default -> throw new IllegalArgumentException("unknown change kind " + dockerKind);
      };
    }
  }

  /** One change: an image path (with or without a leading slash) and its kind. */
  record Change(String path, Kind kind) {}

  /** A changed path whose content must be read separately, and the metadata the export gave it. */
  record Fetch(String path, LayerEntry entry) {}

  private static final Set<String> DOCKER_FILES =
      Set.of(".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab");
  private static final Set<String> DOCKER_TREES = Set.of("proc", "sys", "dev");

  /** Kept added/changed paths. */
  private final Set<String> present = new HashSet<>();

  /** Kept deleted paths. */
  private final Set<String> deleted = new TreeSet<>();

  /** Ancestors of kept paths, whose metadata the layer needs too. */
  private final Set<String> ancestors = new HashSet<>();

  ContainerChanges(Collection<Change> changes, Collection<String> mountTargets) {
    Map<String, Kind> kept = new TreeMap<>();
    Set<String> mounts = new HashSet<>();
    for (String m : mountTargets) {
      mounts.add(LayerEntry.normalize(m));
    }
    for (Change c : changes) {
      String p = LayerEntry.normalize(c.path());
      if (ignored(p) || underAny(p, mounts)) {
        continue;
      }
      kept.put(p, c.kind());
    }
    // directories that exist only to hold mount points: deepest first, so a chain of them goes away
    // together
    TreeSet<String> mountParents =
        new TreeSet<>(
            (a, b) -> {
              int d = Integer.compare(depth(b), depth(a));
              return d != 0 ? d : a.compareTo(b);
            });
    for (String m : mounts) {
      for (String a = parent(m); a != null; a = parent(a)) {
        mountParents.add(a);
      }
    }
    for (String dir : mountParents) {
      Kind k = kept.get(dir);
      if (k == null || k == Kind.DELETED) {
        continue;
      }
      String prefix = dir + "/";
      boolean holdsChanges = kept.keySet().stream().anyMatch(p -> p.startsWith(prefix));
      if (!holdsChanges) {
        kept.remove(dir);
      }
    }
    for (Map.Entry<String, Kind> e : kept.entrySet()) {
      if (e.getValue() == Kind.DELETED) {
        deleted.add(e.getKey());
      } else {
        present.add(e.getKey());
      }
      for (String a = parent(e.getKey()); a != null; a = parent(a)) {
        ancestors.add(a);
      }
    }
  }

  /** Whether nothing is left to write. */
  boolean isEmpty() {
    return present.isEmpty() && deleted.isEmpty();
  }

  /** How many paths the layer will hold (before parents are added). */
  int size() {
    return present.size() + deleted.size();
  }

  /**
   * Reads the exported file system and adds every kept path to {@code writer}; deleted paths that
   * are gone become whiteouts. Returns the hard-linked files whose content must be fetched
   * separately (see the class comment).
   */
  List<Fetch> write(LayerReader export, LayerWriter writer) throws IOException {
    Set<String> seen = new HashSet<>();
    Map<String, LayerEntry> pendingLinks = new HashMap<>();
    LayerEntry e;
    while ((e = export.next()) != null) {
      String p = e.path();
      boolean wanted = present.contains(p) || deleted.contains(p);
      if (!wanted) {
        if (ancestors.contains(p) && e.type() == LayerEntry.Type.DIRECTORY) {
          writer.add(e);
        }
        continue;
      }
      seen.add(p);
      switch (e.type()) {
        case FILE -> {
          try (InputStream in = e.content().open()) {
            writer.add(e, in);
          }
        }
        case HARDLINK -> {
          if (present.contains(e.linkTarget()) || deleted.contains(e.linkTarget())) {
            writer.add(e);
          } else {
            pendingLinks.put(p, e);
          }
        }
        case WHITEOUT, OPAQUE_WHITEOUT -> {
          // an exported file system has no whiteouts; a name like this is not ours to interpret
        }
        default -> writer.add(e);
      }
    }
    for (String d : deleted) {
      if (!seen.contains(d)) {
        writer.add(LayerEntry.whiteout(d));
      }
    }
    // hard links to unchanged files: the first path of each group gets the content, the others link
    // to it
    List<Fetch> fetches = new ArrayList<>();
    Map<String, String> firstOfGroup = new TreeMap<>();
    for (String p : new TreeSet<>(pendingLinks.keySet())) {
      LayerEntry link = pendingLinks.get(p);
      String owner = firstOfGroup.putIfAbsent(link.linkTarget(), p);
      if (owner == null) {
        fetches.add(new Fetch(p, link));
      } else {
        writer.add(LayerEntry.hardlink(p, owner));
      }
    }
    for (String p : present) {
      if (!seen.contains(p)) {
        throw new IOException(
            "the container's export has no '" + p + "', which docker diff lists as changed");
      }
    }
    return fetches;
  }

  static boolean ignored(String path) {
    if (DOCKER_FILES.contains(path)) {
      return true;
    }
    int slash = path.indexOf('/');
    String top = slash < 0 ? path : path.substring(0, slash);
    return DOCKER_TREES.contains(top);
  }

  private static boolean underAny(String path, Set<String> mounts) {
    for (String p = path; p != null; p = parent(p)) {
      if (mounts.contains(p)) {
        return true;
      }
    }
    return false;
  }

  private static String parent(String path) {
    int slash = path.lastIndexOf('/');
    return slash < 0 ? null : path.substring(0, slash);
  }

  private static int depth(String path) {
    int n = 0;
    for (int i = 0; i < path.length(); i++) {
      if (path.charAt(i) == '/') {
        n++;
      }
    }
    return n;
  }
}
