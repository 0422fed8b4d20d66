package dev.kiln.internal.provision;

import dev.kiln.internal.tar.PathOrder;
import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One directory's children for a {@link FilesWalk}: names in canonical order, each with its lstat
 * (and link target). {@link #listTree} lists a whole tree this way, a level at a time.
 */
final class DirectoryListing {
  // logs under the files provisioner's name, where its other messages are
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(FilesProvisioner.class);

  final Path dir;
  final String prefix;
  final long inode;
  Path[] children;
  String[] names;
  FileStat[] stats;
  String[] links;

  /** The error of the first child in canonical order that failed, or of the listing itself. */
  IOException error;

  private int errorAt = Integer.MAX_VALUE;

  DirectoryListing(Path dir, String prefix, long inode) {
    this.dir = dir;
    this.prefix = prefix;
    this.inode = inode;
  }

  /**
   * Lists and stats every directory of the tree, level by level: the directories of a level are
   * read in parallel, then the lstat of every path of the level is spread over all cores (one large
   * directory must not hold a level up on one core). A no-op rebake is these system calls: on a
   * tree of small files they are most of its time. With a watch, every directory is watched before
   * it is read ({@code watch} null: none is).
   */
  static Map<String, DirectoryListing> listTree(
      Path root, FileStat rootStat, String base, TreeWatcher watcher, TreeWatcher.Watch watch) {
    Map<String, DirectoryListing> listings = new HashMap<>();
    List<DirectoryListing> level = List.of(new DirectoryListing(root, base, rootStat.inode()));
    while (!level.isEmpty()) {
      level.parallelStream().forEach(l -> l.list(watcher, watch));
      int total = 0;
      for (DirectoryListing l : level) {
        total += l.error == null ? l.names.length : 0;
      }
      DirectoryListing[] owner = new DirectoryListing[total];
      int[] index = new int[total];
      int k = 0;
      for (DirectoryListing l : level) {
        if (l.error == null) {
          for (int i = 0; i < l.names.length; i++, k++) {
            owner[k] = l;
            index[k] = i;
          }
        }
      }
      java.util.stream.IntStream.range(0, total).parallel().forEach(j -> owner[j].stat(index[j]));
      List<DirectoryListing> next = new ArrayList<>();
      for (DirectoryListing l : level) {
        listings.put(l.prefix, l);
        if (l.error == null) {
          for (int i = 0; i < l.names.length; i++) {
            if (l.stats[i] != null && l.stats[i].type() == FileStat.Type.DIRECTORY) {
              next.add(new DirectoryListing(l.children[i], l.path(i), l.stats[i].inode()));
            }
          }
        }
      }
      level = next;
    }
    return listings;
  }

  /**
   * Reads the directory and sorts its names; the children are stat-ed by {@link #stat}. With a
   * watch, the directory is watched first, so a change after the listing is reported.
   */
  void list(TreeWatcher watcher, TreeWatcher.Watch watch) {
    if (watch != null) {
      try {
        watcher.register(watch, dir, inode);
      } catch (IOException e) {
        // the watch is dirty: the next bake walks again
        log.debug("cannot watch {}: {}", dir, e.toString());
      }
    }
    try {
      List<Path> found = new ArrayList<>();
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        ds.forEach(found::add);
      }
      int n = found.size();
      String[] unsorted = new String[n];
      Integer[] order = new Integer[n];
      for (int i = 0; i < n; i++) {
        unsorted[i] = found.get(i).getFileName().toString();
        order[i] = i;
      }
      // names without whiteout prefixes or surrogates sort in PathOrder exactly as plain
      // strings do
      boolean plain = true;
      for (String name : unsorted) {
        plain &=
            !name.startsWith(".wh.")
                && name.chars().noneMatch(c -> Character.isSurrogate((char) c));
      }
      java.util.Comparator<Integer> cmp =
          plain
              ? (a, b) -> unsorted[a].compareTo(unsorted[b])
              : (a, b) -> PathOrder.compare(unsorted[a], unsorted[b]);
      java.util.Arrays.sort(order, cmp);
      children = new Path[n];
      names = new String[n];
      stats = new FileStat[n];
      links = new String[n];
      for (int i = 0; i < n; i++) {
        children[i] = found.get(order[i]);
        names[i] = unsorted[order[i]];
      }
    } catch (IOException e) {
      error = e;
      errorAt = -1;
    }
  }

  /** The lstat of child {@code i} (and its link target); thread-safe for distinct {@code i}. */
  void stat(int i) {
    try {
      stats[i] = FileStat.lstat(children[i]);
      if (stats[i].type() == FileStat.Type.SYMLINK) {
        links[i] = Files.readSymbolicLink(children[i]).toString();
      }
    } catch (IOException e) {
      synchronized (this) {
        if (i < errorAt) {
          errorAt = i;
          error = e;
        }
      }
    }
  }

  /** The path in the layer of child {@code i}. */
  String path(int i) {
    return join(prefix, names[i]);
  }

  private static String join(String base, String rel) {
    if (rel.isEmpty()) {
      return base;
    }
    return base.isEmpty() ? rel : base + "/" + rel;
  }
}
