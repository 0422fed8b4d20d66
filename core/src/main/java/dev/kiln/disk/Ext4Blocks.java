package dev.kiln.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.BitSet;

/**
 * Which blocks of an ext4 file system are in use, and which of them hold regular-file data, so that
 * an extend can work on a <em>metadata copy</em> of a base disk and then carry only the blocks it
 * changed over to a plain copy.
 *
 * <p>The point: {@code debugfs -w} (like mke2fs) calls fsync when it closes the file system, which
 * on a disk-backed copy of a 2 GiB disk costs as long as writing the whole copy to the device. So
 * debugfs runs on a scratch file on a tmpfs that holds everything of the base's root file system
 * except the data of regular files (superblock, group descriptors, bitmaps, inode tables,
 * directories, extent-tree blocks, symlink and xattr blocks: a few tens of MB), while the base disk
 * is copied to the output in the background. debugfs never reads regular-file data in Kiln's
 * sessions (write, mkdir, symlink, mknod, ln, rm, rmdir, sif, ea_set; new data blocks are
 * zero-filled before they are written), so it behaves exactly as on a full copy. The blocks to
 * carry over are then found by comparing the scratch file with the base disk over every block that
 * is not regular-file data of the base, plus the data blocks of the files the plan removed that the
 * result uses again (freed and reallocated in the same session). Regular-file data of the base is
 * otherwise never written by the session, and blocks freed and not reused keep the base's bytes.
 *
 * <p>Only the layout Kiln's mke2fs configuration and debugfs produce is supported (extents, no
 * inline data, no meta_bg); {@link #supported} says when to fall back to a full copy. Not
 * thread-safe.
 */
final class Ext4Blocks {
  static final int INCOMPAT_META_BG = 0x10;
  static final int INCOMPAT_INLINE_DATA = 0x8000;
  static final int COMPAT_SPARSE_SUPER2 = 0x200;
  static final int RO_COMPAT_SPARSE_SUPER = 0x1;
  static final int INLINE_DATA_FL = 0x10000000;

  private final Ext4Inodes fs;
  private final FileChannel ch;
  private final int bs;
  private final long firstDataBlock;
  private final long blocksPerGroup;

  Ext4Blocks(Ext4Inodes fs) {
    this.fs = fs;
    this.ch = fs.channel();
    this.bs = fs.blockSize;
    this.firstDataBlock = fs.sb.getInt(0x14) & 0xffffffffL;
    this.blocksPerGroup = fs.sb.getInt(0x20) & 0xffffffffL;
  }

  /** Whether the file system uses only features this class understands. */
  boolean supported() {
    int incompat = fs.sb.getInt(0x60);
    return (incompat & (INCOMPAT_META_BG | INCOMPAT_INLINE_DATA)) == 0
        && blocksPerGroup > 0
        && blocksPerGroup <= (long) bs * 8
        && fs.blocksCount <= Integer.MAX_VALUE;
  }

  private ByteBuffer gdt() throws IOException {
    ByteBuffer b = ByteBuffer.allocate(fs.groups * fs.descSize).order(ByteOrder.LITTLE_ENDIAN);
    DiskFiles.readFully(ch, b, fs.offset() + (firstDataBlock + 1) * bs);
    return b;
  }

  private long field(ByteBuffer gdt, int g, int lo, int hi) {
    int d = g * fs.descSize;
    long v = gdt.getInt(d + lo) & 0xffffffffL;
    return fs.descSize >= 64 ? v | (gdt.getInt(d + hi) & 0xffffffffL) << 32 : v;
  }

  private long groupStart(int g) {
    return firstDataBlock + g * blocksPerGroup;
  }

  private long groupBlocks(int g) {
    return Math.min(blocksPerGroup, fs.blocksCount - groupStart(g));
  }

  /**
   * The blocks in use: the block bitmaps of initialized groups, plus every group's superblock and
   * descriptor copies, bitmaps and inode table (which is what a block-uninitialized group's bitmap
   * would say).
   */
  BitSet used() throws IOException {
    ByteBuffer gdt = gdt();
    BitSet used = new BitSet((int) fs.blocksCount);
    byte[] bitmap = new byte[bs];
    for (int g = 0; g < fs.groups; g++) {
      int flags = gdt.getShort(g * fs.descSize + 0x12) & 0xffff;
      if ((flags & 0x2) == 0) { // not BLOCK_UNINIT
        DiskFiles.readFully(
            ch, ByteBuffer.wrap(bitmap), fs.offset() + field(gdt, g, 0x0, 0x20) * bs);
        long start = groupStart(g);
        long n = groupBlocks(g);
        for (int i = 0; i < n; i++) {
          if ((bitmap[i >> 3] & (1 << (i & 7))) != 0) {
            used.set((int) (start + i));
          }
        }
      }
    }
    long gdtBlocks = (fs.groups * (long) fs.descSize + bs - 1) / bs;
    long reservedGdt = fs.sb.getShort(0xCE) & 0xffff;
    long tableBlocks = ((long) fs.inodesPerGroup * fs.inodeSize + bs - 1) / bs;
    for (int g = 0; g < fs.groups; g++) {
      if (hasSuper(g)) {
        long s = groupStart(g);
        used.set((int) (g == 0 ? 0 : s), (int) (s + 1 + gdtBlocks + reservedGdt));
      }
      used.set((int) field(gdt, g, 0x0, 0x20));
      used.set((int) field(gdt, g, 0x4, 0x24));
      long t = field(gdt, g, 0x8, 0x28);
      used.set((int) t, (int) (t + tableBlocks));
    }
    return used;
  }

  /**
   * The inode-table blocks of groups whose inodes were never initialized (INODE_UNINIT): nothing
   * reads or writes them until an inode is allocated there, which clears the flag.
   */
  BitSet uninitializedInodeTables() throws IOException {
    ByteBuffer gdt = gdt();
    BitSet out = new BitSet((int) fs.blocksCount);
    long tableBlocks = ((long) fs.inodesPerGroup * fs.inodeSize + bs - 1) / bs;
    for (int g = 0; g < fs.groups; g++) {
      if ((gdt.getShort(g * fs.descSize + 0x12) & 0x1) != 0) {
        long t = field(gdt, g, 0x8, 0x28);
        out.set((int) t, (int) (t + tableBlocks));
      }
    }
    return out;
  }

  /** e2fsprogs' ext2fs_bg_has_super. */
  private boolean hasSuper(int g) {
    if (g == 0) {
      return true;
    }
    if ((fs.sb.getInt(0x5C) & COMPAT_SPARSE_SUPER2) != 0) {
      return g == fs.sb.getInt(0x24C) || g == fs.sb.getInt(0x250);
    }
    if (g <= 1 || (fs.sb.getInt(0x64) & RO_COMPAT_SPARSE_SUPER) == 0) {
      return true;
    }
    if ((g & 1) == 0) {
      return false;
    }
    return power(g, 3) || power(g, 5) || power(g, 7);
  }

  private static boolean power(int g, int base) {
    long n = base;
    while (n < g) {
      n *= base;
    }
    return n == g;
  }

  /**
   * The data blocks (leaf extents, not extent-tree blocks) of every regular file in use, or null if
   * an inode is laid out in a way this class does not read (inline data, block maps).
   */
  BitSet regularFileData() throws IOException {
    ByteBuffer gdt = gdt();
    BitSet data = new BitSet((int) fs.blocksCount);
    byte[] bitmap = new byte[bs];
    int tableBytes = fs.inodesPerGroup * fs.inodeSize;
    byte[] table = new byte[tableBytes];
    for (int g = 0; g < fs.groups; g++) {
      int flags = gdt.getShort(g * fs.descSize + 0x12) & 0xffff;
      if ((flags & 0x1) != 0) { // INODE_UNINIT
        continue;
      }
      DiskFiles.readFully(ch, ByteBuffer.wrap(bitmap), fs.offset() + field(gdt, g, 0x4, 0x24) * bs);
      int last = -1;
      for (int i = Math.min(fs.inodesPerGroup, bs * 8) - 1; i >= 0; i--) {
        if ((bitmap[i >> 3] & (1 << (i & 7))) != 0) {
          last = i;
          break;
        }
      }
      if (last < 0) {
        continue;
      }
      int len =
          (int) Math.min(tableBytes, DiskBuilder.roundUp((long) (last + 1) * fs.inodeSize, bs));
      DiskFiles.readFully(
          ch, ByteBuffer.wrap(table, 0, len), fs.offset() + field(gdt, g, 0x8, 0x28) * bs);
      ByteBuffer tb = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i <= last; i++) {
        if ((bitmap[i >> 3] & (1 << (i & 7))) == 0) {
          continue;
        }
        int o = i * fs.inodeSize;
        if (!addFileData(
            ByteBuffer.wrap(table, o, fs.inodeSize).slice().order(ByteOrder.LITTLE_ENDIAN), data)) {
          return null;
        }
      }
    }
    return data;
  }

  /**
   * Adds the data blocks of a regular-file inode; false if it is laid out in an unsupported way.
   */
  boolean addFileData(ByteBuffer inode, BitSet data) throws IOException {
    int mode = inode.getShort(0) & 0xffff;
    if ((mode & 0170000) != 0100000) {
      return (inode.getInt(0x20) & INLINE_DATA_FL) == 0;
    }
    int flags = inode.getInt(0x20);
    if ((flags & INLINE_DATA_FL) != 0) {
      return false;
    }
    if ((flags & Ext4Inodes.EXTENTS_FL) == 0) {
      for (int k = 0; k < 60; k += 4) {
        if (inode.getInt(0x28 + k) != 0) {
          return false; // a block-mapped file
        }
      }
      return true;
    }
    ByteBuffer root = ByteBuffer.allocate(60).order(ByteOrder.LITTLE_ENDIAN);
    for (int k = 0; k < 60; k++) {
      root.put(k, inode.get(0x28 + k));
    }
    return leaves(root, data, 0);
  }

  private boolean leaves(ByteBuffer node, BitSet data, int level) throws IOException {
    if ((node.getShort(0) & 0xffff) != 0xF30A || level > 5) {
      return false;
    }
    int entries = node.getShort(2) & 0xffff;
    int depth = node.getShort(6) & 0xffff;
    for (int i = 0; i < entries; i++) {
      int e = 12 + i * 12;
      if (depth == 0) {
        int len = node.getShort(e + 4) & 0xffff;
        long start = ((node.getShort(e + 6) & 0xffffL) << 32) | (node.getInt(e + 8) & 0xffffffffL);
        len = len > 32768 ? len - 32768 : len;
        if (start + len > fs.blocksCount) {
          return false;
        }
        data.set((int) start, (int) (start + len));
      } else {
        long leaf = (node.getInt(e + 4) & 0xffffffffL) | ((node.getShort(e + 8) & 0xffffL) << 32);
        ByteBuffer child = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
        DiskFiles.readFully(ch, child, fs.offset() + leaf * bs);
        if (!leaves(child, data, level + 1)) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * Copies the given blocks of this file system to the same place in {@code to} (in runs; the rest
   * of {@code to} is left as it is). Returns the bytes copied.
   */
  long copy(BitSet blocks, FileChannel to) throws IOException {
    long bytes = 0;
    for (int b = blocks.nextSetBit(0); b >= 0; ) {
      int end = blocks.nextClearBit(b);
      long pos = fs.offset() + (long) b * bs;
      long count = (long) (end - b) * bs;
      long done = 0;
      while (done < count) {
        long n = ch.transferTo(pos + done, count - done, to.position(pos + done));
        if (n <= 0) {
          throw new IOException("short copy at byte " + (pos + done));
        }
        done += n;
      }
      bytes += count;
      b = blocks.nextSetBit(end);
    }
    return bytes;
  }

  /**
   * Writes into {@code out} every block of {@code candidates} whose bytes differ between {@code
   * changed} (at this file system's offset) and this file system. Returns the number of blocks
   * written.
   */
  long carryOver(BitSet candidates, FileChannel changed, FileChannel out) throws IOException {
    final int chunkBlocks = 256;
    byte[] a = new byte[chunkBlocks * bs];
    byte[] b = new byte[chunkBlocks * bs];
    long written = 0;
    for (int s = candidates.nextSetBit(0); s >= 0; ) {
      int end = candidates.nextClearBit(s);
      for (int c = s; c < end; c += chunkBlocks) {
        int n = Math.min(chunkBlocks, end - c);
        long pos = fs.offset() + (long) c * bs;
        DiskFiles.readFully(ch, ByteBuffer.wrap(a, 0, n * bs), pos);
        DiskFiles.readFully(changed, ByteBuffer.wrap(b, 0, n * bs), pos);
        int i = 0;
        while (i < n) {
          if (Arrays.equals(a, i * bs, (i + 1) * bs, b, i * bs, (i + 1) * bs)) {
            i++;
            continue;
          }
          int j = i + 1;
          while (j < n && !Arrays.equals(a, j * bs, (j + 1) * bs, b, j * bs, (j + 1) * bs)) {
            j++;
          }
          DiskFiles.writeFully(out, ByteBuffer.wrap(b, i * bs, (j - i) * bs), pos + (long) i * bs);
          written += j - i;
          i = j;
        }
      }
      s = candidates.nextSetBit(end);
    }
    return written;
  }
}
