package dev.kiln.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.UUID;

/**
 * Reads the ext4 superblock and group descriptors of a file system inside a disk image, and pins the times of every
 * in-use inode to one instant, updating the inode checksums. {@code mke2fs -d} copies atime and ctime from the
 * staged files (which the host sets to "now"), and {@code debugfs} stamps the inodes it touches, so this runs last.
 * Only inode-table blocks whose bytes change are written. Not thread-safe.
 */
final class Ext4Inodes {
  static final int INCOMPAT_64BIT = 0x80;
  static final int INCOMPAT_CSUM_SEED = 0x2000;
  static final int RO_COMPAT_METADATA_CSUM = 0x400;

  private final FileChannel ch;
  private final long offset;
  final ByteBuffer sb;
  final int blockSize;
  final long blocksCount;
  final long freeBlocks;
  final int inodesPerGroup;
  final int inodeSize;
  final int groups;
  final int descSize;
  final UUID uuid;

  Ext4Inodes(FileChannel ch, long offset) throws IOException {
    this.ch = ch;
    this.offset = offset;
    sb = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
    DiskFiles.readFully(ch, sb, offset + 1024);
    if ((sb.getShort(0x38) & 0xffff) != 0xEF53) {
      throw new IOException("no ext4 superblock at byte " + (offset + 1024) + " of the disk");
    }
    blockSize = 1024 << sb.getInt(0x18);
    int incompat = sb.getInt(0x60);
    boolean is64 = (incompat & INCOMPAT_64BIT) != 0;
    blocksCount = (sb.getInt(0x4) & 0xffffffffL) | (is64 ? (sb.getInt(0x150) & 0xffffffffL) << 32 : 0);
    freeBlocks = (sb.getInt(0xC) & 0xffffffffL) | (is64 ? (sb.getInt(0x158) & 0xffffffffL) << 32 : 0);
    long blocksPerGroup = sb.getInt(0x20) & 0xffffffffL;
    long firstDataBlock = sb.getInt(0x14) & 0xffffffffL;
    groups = (int) ((blocksCount - firstDataBlock + blocksPerGroup - 1) / blocksPerGroup);
    inodesPerGroup = sb.getInt(0x28);
    inodeSize = sb.getShort(0x58) & 0xffff;
    descSize = is64 ? sb.getShort(0xFE) & 0xffff : 32;
    ByteBuffer u = ByteBuffer.wrap(new byte[16]);
    sb.get(0x68, u.array());
    uuid = new UUID(u.getLong(), u.getLong());
  }

  long freeBytes() {
    return freeBlocks * blockSize;
  }

  /** Sets atime, ctime, mtime and crtime (with zero nanoseconds) of every in-use inode to {@code t}. */
  long pinTimes(long t) throws IOException {
    int incompat = sb.getInt(0x60);
    boolean csum = (sb.getInt(0x64) & RO_COMPAT_METADATA_CSUM) != 0;
    int seed;
    if ((incompat & INCOMPAT_CSUM_SEED) != 0) {
      seed = sb.getInt(0x270);
    } else {
      byte[] uu = new byte[16];
      sb.get(0x68, uu);
      seed = Crc32c.update(~0, uu);
    }
    long firstDataBlock = sb.getInt(0x14) & 0xffffffffL;
    long gdtPos = offset + (firstDataBlock + 1) * blockSize;
    ByteBuffer gdt = ByteBuffer.allocate(groups * descSize).order(ByteOrder.LITTLE_ENDIAN);
    DiskFiles.readFully(ch, gdt, gdtPos);
    long changedBlocks = 0;
    byte[] bitmap = new byte[blockSize];
    int tableBytes = inodesPerGroup * inodeSize;
    for (int g = 0; g < groups; g++) {
      int d = g * descSize;
      int flags = gdt.getShort(d + 0x12) & 0xffff;
      if ((flags & 0x1) != 0) { // INODE_UNINIT
        continue;
      }
      long bitmapBlock = (gdt.getInt(d + 0x4) & 0xffffffffL) | hi(gdt, d, 0x24);
      long tableBlock = (gdt.getInt(d + 0x8) & 0xffffffffL) | hi(gdt, d, 0x28);
      DiskFiles.readFully(ch, ByteBuffer.wrap(bitmap), offset + bitmapBlock * blockSize);
      byte[] table = new byte[tableBytes];
      DiskFiles.readFully(ch, ByteBuffer.wrap(table), offset + tableBlock * blockSize);
      byte[] before = table.clone();
      ByteBuffer tb = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < inodesPerGroup; i++) {
        if ((bitmap[i >> 3] & (1 << (i & 7))) == 0) {
          continue;
        }
        int o = i * inodeSize;
        if (tb.getShort(o) == 0) { // i_mode: reserved inodes that are not files
          continue;
        }
        tb.putInt(o + 0x8, (int) t);
        tb.putInt(o + 0xC, (int) t);
        tb.putInt(o + 0x10, (int) t);
        int extra = inodeSize > 128 ? tb.getShort(o + 0x80) & 0xffff : 0;
        if (extra >= 0x18) {
          tb.putInt(o + 0x84, 0);
          tb.putInt(o + 0x88, 0);
          tb.putInt(o + 0x8C, 0);
          tb.putInt(o + 0x90, (int) t);
          tb.putInt(o + 0x94, 0);
        }
        if (csum) {
          long inum = (long) g * inodesPerGroup + i + 1;
          setChecksum(tb, o, seed, (int) inum, extra);
        }
      }
      for (int off = 0; off < tableBytes; off += blockSize) {
        if (!java.util.Arrays.equals(before, off, off + blockSize, table, off, off + blockSize)) {
          DiskFiles.writeFully(
              ch, ByteBuffer.wrap(table, off, blockSize), offset + tableBlock * blockSize + off);
          changedBlocks++;
        }
      }
    }
    return changedBlocks;
  }

  private long hi(ByteBuffer gdt, int d, int field) {
    return descSize >= 64 ? (gdt.getInt(d + field) & 0xffffffffL) << 32 : 0;
  }

  private void setChecksum(ByteBuffer tb, int o, int fsSeed, int inum, int extra) {
    byte[] a = tb.array();
    int gen = tb.getInt(o + 0x64);
    boolean hiFits = inodeSize > 128 && extra >= 4;
    tb.putShort(o + 0x7C, (short) 0);
    if (hiFits) {
      tb.putShort(o + 0x82, (short) 0);
    }
    int crc = Crc32c.updateInt(fsSeed, inum);
    crc = Crc32c.updateInt(crc, gen);
    crc = Crc32c.update(crc, a, o, inodeSize);
    tb.putShort(o + 0x7C, (short) crc);
    if (hiFits) {
      tb.putShort(o + 0x82, (short) (crc >>> 16));
    }
  }
}
