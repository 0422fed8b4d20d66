package dev.kiln.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.Map;

/**
 * The scratch disk of an extend that holds only the base file system's metadata (everything in use
 * but regular-file data, see {@link Ext4Blocks}), and which blocks to carry over from it to the
 * full copy of the base disk once {@code debugfs} has changed it: every block in use before or
 * after, minus the base's regular-file data, plus the data blocks of files the plan removed (the
 * session may reuse them). Made against the base disk's file system while its channel is open.
 */
final class MetadataCopy {
  private final Ext4Inodes fs;
  private final Ext4Blocks blocks;

  /** Regular-file data of the base, less that of removed files (which may be reused). */
  private final BitSet baseData;

  private final BitSet baseUsed;
  private final BitSet baseUninit;
  private final BitSet metadata;

  private MetadataCopy(Ext4Inodes fs, Ext4Blocks blocks) throws IOException {
    this.fs = fs;
    this.blocks = blocks;
    baseData = blocks.regularFileData();
    baseUsed = blocks.used();
    baseUninit = blocks.uninitializedInodeTables();
    metadata = (BitSet) baseUsed.clone();
    metadata.andNot(baseData);
    metadata.andNot(baseUninit);
  }

  /**
   * The metadata copy of the file system {@code blocks} reads, or null if it uses features this way
   * cannot read (inline data, block maps, meta_bg): then the base disk is copied whole.
   */
  static MetadataCopy of(Ext4Inodes fs, Ext4Blocks blocks) throws IOException {
    return blocks.supported() ? new MetadataCopy(fs, blocks) : null;
  }

  /** Bytes of the metadata blocks. */
  long bytes() {
    return (long) metadata.cardinality() * fs.blockSize;
  }

  /**
   * Writes the metadata blocks into the new file {@code disk}, at their places in a disk of {@code
   * diskSize} bytes (the rest sparse). Returns the bytes copied.
   */
  long writeTo(Path disk, long diskSize) throws IOException {
    try (FileChannel sc =
        FileChannel.open(
            disk,
            StandardOpenOption.CREATE_NEW,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE)) {
      long bytes = blocks.copy(metadata, sc);
      if (sc.size() < diskSize) {
        sc.write(ByteBuffer.allocate(1), diskSize - 1);
      }
      return bytes;
    }
  }

  /**
   * Counts as candidates the data blocks of the base's files the plan removes every link to: the
   * session may free and reuse them. {@code removedFiles} maps inode numbers to links removed.
   */
  void addRemoved(Map<Long, Integer> removedFiles, Path baseDisk)
      throws IOException, DiskException {
    for (Map.Entry<Long, Integer> r : removedFiles.entrySet()) {
      ByteBuffer inode = fs.inode(r.getKey());
      if (r.getValue() >= (inode.getShort(0x1A) & 0xffff)) {
        BitSet freed = new BitSet();
        if (!blocks.addFileData(inode, freed)) {
          throw new DiskException(
              "cannot read the blocks of inode " + r.getKey() + " of " + baseDisk);
        }
        baseData.andNot(freed);
      }
    }
  }

  /**
   * Writes into {@code result} (the full copy of the base disk) the candidate blocks whose bytes in
   * {@code scratch} (the metadata copy after the session) differ from the base disk's. Returns the
   * number of blocks written.
   */
  long carryOver(FileChannel base, FileChannel scratch, FileChannel result, long rootOffset)
      throws IOException {
    Ext4Blocks after = new Ext4Blocks(new Ext4Inodes(scratch, rootOffset));
    BitSet candidates = after.used();
    candidates.or(baseUsed);
    candidates.andNot(baseData);
    BitSet untouched = after.uninitializedInodeTables();
    untouched.and(baseUninit);
    candidates.andNot(untouched);
    return new Ext4Blocks(new Ext4Inodes(base, rootOffset)).carryOver(candidates, scratch, result);
  }
}
