package dev.kiln.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Map;
import java.util.UUID;

/**
 * Reads the ext4 superblock, group descriptors and inodes of a file system inside a disk image, and
 * rewrites the inode tables in one pass: every in-use inode's times pinned to one instant, the
 * declared type, mode, owner and device number set where a {@link Patch} asks for them, and the
 * inode checksums recomputed. {@code mke2fs -d} copies atime and ctime from the staged files (which
 * the host sets to "now") and the owners and modes of the host files, and {@code debugfs} stamps
 * the inodes it touches, so this runs last. Only inode-table blocks whose bytes change are written.
 * Not thread-safe.
 */
final class Ext4Inodes {
  static final int INCOMPAT_64BIT = 0x80;
  static final int INCOMPAT_CSUM_SEED = 0x2000;
  static final int RO_COMPAT_METADATA_CSUM = 0x400;
  static final int EXTENTS_FL = 0x80000;

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
  private ByteBuffer gdt;

  /**
   * Inode tables read so far, whole, by group (this class is the only writer while it is in use).
   */
  private byte[][] tables;

  /**
   * What to set on one inode before its times are pinned: the full {@code i_mode} (type and
   * permission bits), the owner and, for a device, its number. Turning a regular file into a device
   * or FIFO also drops its (empty) extent tree, the way mke2fs writes special files.
   */
  record Patch(int mode, int uid, int gid, int major, int minor) {}

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
    blocksCount =
        (sb.getInt(0x4) & 0xffffffffL) | (is64 ? (sb.getInt(0x150) & 0xffffffffL) << 32 : 0);
    freeBlocks =
        (sb.getInt(0xC) & 0xffffffffL) | (is64 ? (sb.getInt(0x158) & 0xffffffffL) << 32 : 0);
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

  FileChannel channel() {
    return ch;
  }

  /** Byte offset of the file system in the disk image. */
  long offset() {
    return offset;
  }

  boolean metadataCsum() {
    return (sb.getInt(0x64) & RO_COMPAT_METADATA_CSUM) != 0;
  }

  /** The seed of every metadata checksum (crc32c of the UUID, or the stored seed). */
  int csumSeed() {
    if ((sb.getInt(0x60) & INCOMPAT_CSUM_SEED) != 0) {
      return sb.getInt(0x270);
    }
    byte[] uu = new byte[16];
    sb.get(0x68, uu);
    return Crc32c.update(~0, uu);
  }

  private ByteBuffer gdt() throws IOException {
    if (gdt == null) {
      long firstDataBlock = sb.getInt(0x14) & 0xffffffffL;
      ByteBuffer b = ByteBuffer.allocate(groups * descSize).order(ByteOrder.LITTLE_ENDIAN);
      DiskFiles.readFully(ch, b, offset + (firstDataBlock + 1) * blockSize);
      gdt = b;
    }
    return gdt;
  }

  private long inodeTableBlock(int g) throws IOException {
    ByteBuffer d = gdt();
    int o = g * descSize;
    return (d.getInt(o + 0x8) & 0xffffffffL) | hi(d, o, 0x28);
  }

  /**
   * One inode ({@link #inodeSize} bytes, little-endian, a copy), from its group's table (read
   * whole, once).
   */
  ByteBuffer inode(long ino) throws IOException {
    if (ino < 1 || ino > (long) groups * inodesPerGroup) {
      throw new IOException(
          "inode " + ino + " out of range in the ext4 file system at byte " + offset);
    }
    int g = (int) ((ino - 1) / inodesPerGroup);
    int index = (int) ((ino - 1) % inodesPerGroup);
    if (tables == null) {
      tables = new byte[groups][];
    }
    if (tables[g] == null) {
      byte[] t = new byte[inodesPerGroup * inodeSize];
      DiskFiles.readFully(ch, ByteBuffer.wrap(t), offset + inodeTableBlock(g) * blockSize);
      tables[g] = t;
    }
    byte[] one =
        java.util.Arrays.copyOfRange(tables[g], index * inodeSize, (index + 1) * inodeSize);
    return ByteBuffer.wrap(one).order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Sets atime, ctime, mtime and crtime (with zero nanoseconds) of every in-use inode to {@code t}.
   */
  long pinTimes(long t) throws IOException {
    return pinTimes(t, Map.of());
  }

  /**
   * Applies {@code patches} (by inode number) and sets atime, ctime, mtime and crtime (with zero
   * nanoseconds) of every in-use inode to {@code t}, recomputing the checksums. Returns the number
   * of inode-table blocks written.
   */
  long pinTimes(long t, Map<Long, Patch> patches) throws IOException {
    return pinTimes(t, patches, null);
  }

  /**
   * As {@link #pinTimes(long, Map)}, adding {position, length} of every write to {@code written} if
   * not null.
   */
  long pinTimes(long t, Map<Long, Patch> patches, java.util.List<long[]> written)
      throws IOException {
    boolean csum = metadataCsum();
    int seed = csumSeed();
    ByteBuffer gdt = gdt();
    long changedBlocks = 0;
    byte[] bitmap = new byte[blockSize];
    int tableBytes = inodesPerGroup * inodeSize;
    byte[] table = new byte[tableBytes];
    byte[] before = new byte[tableBytes];
    for (int g = 0; g < groups; g++) {
      int d = g * descSize;
      int flags = gdt.getShort(d + 0x12) & 0xffff;
      if ((flags & 0x1) != 0) { // INODE_UNINIT
        continue;
      }
      long bitmapBlock = (gdt.getInt(d + 0x4) & 0xffffffffL) | hi(gdt, d, 0x24);
      long tableBlock = (gdt.getInt(d + 0x8) & 0xffffffffL) | hi(gdt, d, 0x28);
      DiskFiles.readFully(ch, ByteBuffer.wrap(bitmap), offset + bitmapBlock * blockSize);
      // only the part of the table up to the last in-use inode is read and rewritten
      int last = -1;
      for (int i = Math.min(inodesPerGroup, blockSize * 8) - 1; i >= 0; i--) {
        if ((bitmap[i >> 3] & (1 << (i & 7))) != 0) {
          last = i;
          break;
        }
      }
      if (last < 0) {
        continue;
      }
      int usedBytes = (int) DiskBuilder.roundUp((long) (last + 1) * inodeSize, blockSize);
      usedBytes = Math.min(usedBytes, tableBytes);
      if (tables != null && tables[g] != null) {
        System.arraycopy(tables[g], 0, table, 0, usedBytes);
      } else {
        DiskFiles.readFully(
            ch, ByteBuffer.wrap(table, 0, usedBytes), offset + tableBlock * blockSize);
      }
      System.arraycopy(table, 0, before, 0, usedBytes);
      ByteBuffer tb = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i <= last; i++) {
        if ((bitmap[i >> 3] & (1 << (i & 7))) == 0) {
          continue;
        }
        int o = i * inodeSize;
        if (tb.getShort(o) == 0) { // i_mode: reserved inodes that are not files
          continue;
        }
        long inum = (long) g * inodesPerGroup + i + 1;
        Patch p = patches.isEmpty() ? null : patches.get(inum);
        if (p != null) {
          apply(tb, o, p, inum);
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
          setChecksum(tb, o, seed, (int) inum, extra);
        }
      }
      for (int off = 0; off < usedBytes; off += blockSize) {
        if (!java.util.Arrays.equals(before, off, off + blockSize, table, off, off + blockSize)) {
          long pos = offset + tableBlock * blockSize + off;
          DiskFiles.writeFully(ch, ByteBuffer.wrap(table, off, blockSize), pos);
          if (written != null) {
            written.add(new long[] {pos, blockSize});
          }
          changedBlocks++;
        }
      }
      if (tables != null && tables[g] != null) {
        System.arraycopy(table, 0, tables[g], 0, usedBytes);
      }
    }
    return changedBlocks;
  }

  private static void apply(ByteBuffer tb, int o, Patch p, long inum) throws IOException {
    int oldType = tb.getShort(o) & 0170000;
    int newType = p.mode() & 0170000;
    boolean special = newType == 0020000 || newType == 0060000 || newType == 0010000;
    if (oldType != newType && !(special && oldType == 0100000)) {
      throw new IOException(
          "inode "
              + inum
              + " has type "
              + Integer.toOctalString(oldType)
              + ", not the "
              + Integer.toOctalString(newType)
              + " it was staged as");
    }
    tb.putShort(o, (short) p.mode());
    tb.putShort(o + 0x2, (short) p.uid());
    tb.putShort(o + 0x78, (short) (p.uid() >>> 16));
    tb.putShort(o + 0x18, (short) p.gid());
    tb.putShort(o + 0x7A, (short) (p.gid() >>> 16));
    if (special && oldType != newType) {
      // an empty regular file staged in the device's place: no data, no extent tree; the number in
      // i_block
      // (the encoding of the kernel and of mke2fs: old 16-bit form when it fits, else the new form
      // in i_block[1])
      tb.putInt(o + 0x4, 0); // i_size_lo
      tb.putInt(o + 0x6C, 0); // i_size_high
      tb.putInt(o + 0x1C, 0); // i_blocks_lo
      tb.putShort(o + 0x74, (short) 0); // i_blocks_high
      tb.putInt(o + 0x20, tb.getInt(o + 0x20) & ~EXTENTS_FL);
      for (int k = 0; k < 60; k += 4) {
        tb.putInt(o + 0x28 + k, 0);
      }
      if (newType != 0010000) {
        int major = p.major();
        int minor = p.minor();
        if (major < 256 && minor < 256) {
          tb.putInt(o + 0x28, major * 256 + minor);
        } else {
          tb.putInt(o + 0x2C, (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12));
        }
      }
    }
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
