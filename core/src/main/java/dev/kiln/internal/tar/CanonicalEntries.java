package dev.kiln.internal.tar;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Turns the entries added to a {@link CanonicalLayerWriter} into the ones its tar holds, validated
 * and in canonical order (see the writer's class doc): each group of hard-linked paths re-rooted at
 * its first path, a directory entry for each opaque directory the layer does not declare, the
 * whiteout and opaque markers as the entries that stand for their tar files, all sorted by {@link
 * PathOrder} of their {@link TarNames tar names}.
 */
final class CanonicalEntries {
  /** The entries as added: the last one for each path, whiteouts included. */
  private final Map<String, LayerEntry> declared;

  private final boolean lowest;

  private CanonicalEntries(Map<String, LayerEntry> declared, boolean lowest) {
    this.declared = declared;
    this.lowest = lowest;
  }

  /**
   * The entries of the tar for {@code byPath} (the last entry added for each path, whiteouts
   * included) and {@code opaqueDirs}; {@code lowest} if no layer is below this one.
   *
   * @throws IllegalArgumentException naming the offending paths, for entries under a symlink or a
   *     non-directory of the layer, and for hard links to directories, to deleted paths, in a cycle
   *     or, in the lowest layer, to a path the layer does not hold
   */
  static List<LayerEntry> of(
      Map<String, LayerEntry> byPath, Set<String> opaqueDirs, boolean lowest) {
    return new CanonicalEntries(byPath, lowest).canonicalize(opaqueDirs);
  }

  private List<LayerEntry> canonicalize(Set<String> opaqueDirs) {
    Map<String, LayerEntry> all = new LinkedHashMap<>(declared);
    // Checked in sorted order, so that the first error reported does not depend on hashing.
    List<String> paths = new ArrayList<>(all.keySet());
    paths.sort(PathOrder.COMPARATOR);
    for (String path : paths) {
      checkAncestors(path, "layer entry '" + path + "'");
    }
    TreeSet<String> opaque = new TreeSet<>(PathOrder.COMPARATOR);
    opaque.addAll(opaqueDirs);
    for (String dir : opaque) {
      String what = "opaque whiteout of '" + dir + "'";
      checkAncestors(dir, what);
      LayerEntry self = all.get(dir);
      if (self != null) {
        checkDirectory(self, what, dir);
      }
    }
    relinkHardlinks(all, paths);

    for (String dir : opaque) {
      all.computeIfAbsent(dir, d -> LayerEntry.directory(d, 0755));
    }

    // sort keys are unique: '.wh.' names are reserved for the whiteouts and opaque markers that
    // stand for them
    List<Map.Entry<String, LayerEntry>> sorted = new ArrayList<>(all.size() + opaque.size());
    for (LayerEntry e : all.values()) {
      sorted.add(Map.entry(TarNames.of(e), e));
    }
    for (String dir : opaque) {
      LayerEntry marker = LayerEntry.opaqueWhiteout(dir);
      sorted.add(Map.entry(TarNames.of(marker), marker));
    }
    sorted.sort(Map.Entry.comparingByKey(PathOrder.COMPARATOR));
    List<LayerEntry> entries = new ArrayList<>(sorted.size());
    sorted.forEach(e -> entries.add(e.getValue()));
    return entries;
  }

  private void checkAncestors(String path, String what) {
    int slash = -1;
    while ((slash = path.indexOf('/', slash + 1)) >= 0) {
      String parent = path.substring(0, slash);
      LayerEntry p = declared.get(parent);
      if (p != null) {
        checkDirectory(p, what, parent);
      }
    }
  }

  private static void checkDirectory(LayerEntry e, String what, String path) {
    if (e.type() == Type.SYMLINK) {
      throw new IllegalArgumentException(
          String.format(
              "%s would be written through symlink '%s' -> '%s' of the same layer",
              what, path, e.linkTarget()));
    }
    if (e.type() == Type.WHITEOUT) {
      throw new IllegalArgumentException(
          String.format(
              "%s needs directory '%s', which the same layer deletes with a whiteout; to replace a lower "
                  + "directory with a fresh one, add LayerEntry.directory and LayerEntry.opaqueWhiteout for it",
              what, path));
    }
    if (e.type() != Type.DIRECTORY) {
      throw new IllegalArgumentException(
          String.format(
              "%s needs '%s' to be a directory, but the same layer has it as a %s",
              what, path, e.type()));
    }
  }

  /**
   * Stores each group of hard-linked paths of this layer once: the first path in canonical order
   * gets the content and the inode's metadata, the others become links to it, whichever path the
   * caller declared as the file.
   */
  private void relinkHardlinks(Map<String, LayerEntry> all, List<String> sortedPaths) {
    Map<String, List<String>> groups = new TreeMap<>(PathOrder.COMPARATOR);
    for (String path : sortedPaths) {
      LayerEntry link = all.get(path);
      if (link.type() != Type.HARDLINK) {
        continue;
      }
      String what = "hard link '" + path + "' -> '" + link.linkTarget() + "'";
      String target = link.linkTarget();
      Set<String> seen = new HashSet<>();
      seen.add(path);
      LayerEntry t;
      while ((t = all.get(target)) != null && t.type() == Type.HARDLINK) {
        checkArgument(seen.add(target), "%s is part of a cycle of hard links", what);
        target = t.linkTarget();
      }
      checkArgument(!seen.contains(target), "%s is part of a cycle of hard links", what);
      checkAncestors(target, what);
      if (t == null) {
        checkArgument(
            !lowest, "%s: the target is not in the layer, and no layer is below it", what);
        // A file of a lower layer: the link is applied on top of it.
        if (!target.equals(link.linkTarget())) {
          all.put(path, DerivedEntries.moved(link, path, target, link.content()));
        }
        continue;
      }
      checkArgument(t.type() != Type.DIRECTORY, "%s: cannot hard-link a directory", what);
      checkArgument(
          t.type() != Type.WHITEOUT,
          "%s: the target is deleted by a whiteout of the same layer",
          what);
      groups.computeIfAbsent(target, k -> new ArrayList<>()).add(path);
    }
    for (Map.Entry<String, List<String>> g : groups.entrySet()) {
      LayerEntry inode = all.get(g.getKey());
      String owner = g.getKey();
      for (String member : g.getValue()) {
        if (PathOrder.compare(member, owner) < 0) {
          owner = member;
        }
      }
      all.put(owner, DerivedEntries.moved(inode, owner, inode.linkTarget(), inode.content()));
      List<String> links = new ArrayList<>(g.getValue());
      links.add(g.getKey());
      for (String link : links) {
        if (!link.equals(owner)) {
          all.put(link, DerivedEntries.hardLink(link, inode, owner));
        }
      }
    }
  }
}
