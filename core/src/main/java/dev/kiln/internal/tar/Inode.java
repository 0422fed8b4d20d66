package dev.kiln.internal.tar;

import dev.kiln.spi.LayerEntry;

/**
 * A non-directory of a {@link FlatTree} as a file system knows it: metadata, where its content is
 * (entry {@code ordinal} of layer {@code layer}), and, once the final entries are known, the path
 * that holds it; the tree's other paths of the inode are hard links to that one.
 */
final class Inode {
  final int layer;
  final long ordinal;
  final LayerEntry meta;
  String owner;

  Inode(int layer, long ordinal, LayerEntry meta) {
    this.layer = layer;
    this.ordinal = ordinal;
    this.meta = meta;
  }
}
