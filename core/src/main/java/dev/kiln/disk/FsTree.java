package dev.kiln.disk;

import dev.kiln.spi.LayerEntry;
import java.io.IOException;
import java.util.List;

/** A read-only view of a flattened root file system, enough to find the kernel. */
interface FsTree {
  /** The type of the entry at {@code path} (no leading slash), or null if there is none. */
  LayerEntry.Type typeOf(String path) throws IOException, DiskException;

  /** The target of the symlink at {@code path}. */
  String linkTarget(String path) throws IOException, DiskException;

  /** The names in directory {@code dir} ("" is the root), or an empty list if it is absent. */
  List<String> list(String dir) throws IOException, DiskException;

  /**
   * Up to {@code max} bytes from the start of the regular file at {@code path}, or null when this
   * view cannot read file contents.
   */
  default byte[] head(String path, int max) throws IOException {
    return null;
  }
}
