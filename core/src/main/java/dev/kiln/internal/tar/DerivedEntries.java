package dev.kiln.internal.tar;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import java.util.Map;

/**
 * Entries made from other entries, as the layer writer and the flattener move them around: an entry
 * under another path, and the hard link that stands for one more path of an inode.
 */
final class DerivedEntries {
  private DerivedEntries() {}

  /** {@code e} at {@code path}, with {@code linkTarget} and {@code content}, the rest unchanged. */
  static LayerEntry moved(
      LayerEntry e, String path, String linkTarget, LayerEntry.Content content) {
    return new LayerEntry(
        path,
        e.type(),
        e.mode(),
        e.uid(),
        e.gid(),
        e.size(),
        linkTarget,
        e.devMajor(),
        e.devMinor(),
        e.xattrs(),
        content);
  }

  /**
   * A hard link at {@code path} to {@code owner}, the path that holds the inode {@code meta}
   * describes, with the inode's mode and owner.
   */
  static LayerEntry hardLink(String path, LayerEntry meta, String owner) {
    return new LayerEntry(
        path, Type.HARDLINK, meta.mode(), meta.uid(), meta.gid(), 0, owner, 0, 0, Map.of(), null);
  }
}
