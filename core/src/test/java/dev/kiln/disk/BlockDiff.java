package dev.kiln.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;

/**
 * Which fixed-size blocks differ between two disk images, for tests and benchmarks that measure how
 * much of a disk an incremental upload (EBS direct {@code PutSnapshotBlock}, 512 KiB blocks) would
 * send for {@code disk} given {@code base}. A shorter image counts as zeros past its end. The
 * upload itself compares blocks as it reads them (provider-ec2's snapshot uploader); this is the
 * independent measure tests check it and the disk layout against. Immutable and thread-safe.
 *
 * <pre>{@code
 * BlockDiff d = BlockDiff.compare(baseDisk, appDisk);
 * d.changed().stream().forEach(i -> upload(i, d.blockSize()));
 * }</pre>
 */
public final class BlockDiff {
  /** The EBS snapshot block size. */
  public static final int EBS_BLOCK = 512 * 1024;

  private final int blockSize;
  private final long blocks;
  private final BitSet changed;

  private BlockDiff(int blockSize, long blocks, BitSet changed) {
    this.blockSize = blockSize;
    this.blocks = blocks;
    this.changed = changed;
  }

  /** Compares in 512 KiB blocks. */
  public static BlockDiff compare(Path base, Path disk) throws IOException {
    return compare(base, disk, EBS_BLOCK);
  }

  public static BlockDiff compare(Path base, Path disk, int blockSize) throws IOException {
    try (FileChannel a = FileChannel.open(base, StandardOpenOption.READ);
        FileChannel b = FileChannel.open(disk, StandardOpenOption.READ)) {
      long size = Math.max(a.size(), b.size());
      long blocks = (size + blockSize - 1) / blockSize;
      if (blocks > Integer.MAX_VALUE) {
        throw new IOException("disk too large to compare in blocks of " + blockSize);
      }
      BitSet changed = new BitSet();
      ByteBuffer x = ByteBuffer.allocateDirect(blockSize);
      ByteBuffer y = ByteBuffer.allocateDirect(blockSize);
      for (long i = 0; i < blocks; i++) {
        read(a, x, i * blockSize);
        read(b, y, i * blockSize);
        if (x.mismatch(y) >= 0) {
          changed.set((int) i);
        }
      }
      return new BlockDiff(blockSize, blocks, changed);
    }
  }

  private static void read(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
    buf.clear();
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos + buf.position());
      if (n < 0) {
        break;
      }
    }
    while (buf.hasRemaining()) {
      buf.put((byte) 0);
    }
    buf.flip();
  }

  public int blockSize() {
    return blockSize;
  }

  /** Blocks in the larger image. */
  public long blocks() {
    return blocks;
  }

  /** Indexes of the blocks that differ (a copy). */
  public BitSet changed() {
    return (BitSet) changed.clone();
  }

  public long changedBlocks() {
    return changed.cardinality();
  }

  public long changedBytes() {
    return changedBlocks() * blockSize;
  }

  @Override
  public String toString() {
    return changedBlocks()
        + " of "
        + blocks
        + " blocks of "
        + blockSize
        + " bytes differ ("
        + changedBytes() / (1024 * 1024)
        + " MiB)";
  }
}
