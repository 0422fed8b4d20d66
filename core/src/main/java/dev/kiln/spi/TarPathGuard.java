package dev.kiln.spi;

import java.util.HashMap;
import java.util.Map;

/**
 * The paths of one layer as {@link TarLayerReader} reads it: normalises tar names ({@code ./a//b}
 * becomes {@code a/b}) and refuses an entry that would escape the image root ({@code ..}) or be
 * written through a symlink that an earlier entry of the same layer created.
 */
final class TarPathGuard {
  private final String source;

  /** Symlinks created so far in this layer, by path, to refuse entries written through them. */
  private final Map<String, String> symlinks = new HashMap<>();

  TarPathGuard(String source) {
    this.source = source;
  }

  /** Notes that the entry at {@code path} is a symlink to {@code target}. */
  void symlink(String path, String target) {
    symlinks.put(path, target);
  }

  /**
   * Notes that a directory or file replaces whatever symlink had the same name: on extraction, what
   * follows may use the path.
   */
  void replace(String path) {
    symlinks.remove(path);
  }

  /**
   * Normalises a tar name; {@code null} for the root. Refuses {@code ..}: it could only be meant to
   * escape.
   */
  String normalize(String name) throws UnsafeLayerException {
    StringBuilder sb = new StringBuilder(name.length());
    for (String seg : name.split("/")) {
      if (seg.isEmpty() || seg.equals(".")) {
        continue;
      }
      if (seg.equals("..")) {
        throw new UnsafeLayerException(
            "tar entry '" + name + "' in " + source + " would escape the image root");
      }
      if (sb.length() > 0) {
        sb.append('/');
      }
      sb.append(seg);
    }
    return sb.length() == 0 ? null : sb.toString();
  }

  /**
   * Refuses {@code path} when one of its ancestors is a symlink of this layer; {@code what} names
   * the entry.
   */
  void checkNotThroughSymlink(String what, String path) throws UnsafeLayerException {
    if (symlinks.isEmpty()) {
      return;
    }
    int slash = -1;
    while ((slash = path.indexOf('/', slash + 1)) >= 0) {
      String ancestor = path.substring(0, slash);
      String target = symlinks.get(ancestor);
      if (target != null) {
        throw new UnsafeLayerException(
            "tar entry '"
                + what
                + "' in "
                + source
                + " writes through symlink '"
                + ancestor
                + "' -> '"
                + target
                + "' created earlier in the same layer");
      }
    }
  }
}
