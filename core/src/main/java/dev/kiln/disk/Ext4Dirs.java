package dev.kiln.disk;

import dev.kiln.spi.LayerEntry.Type;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the directories and symlinks of an ext4 file system inside a disk image, in Java: extent
 * trees, linear and hashed (htree) directories (whose leaf blocks hold the entries and whose index
 * blocks look like empty entries to a linear scan). It replaces {@code debugfs ls}/{@code stat}
 * runs, and it can change the file type recorded in a directory entry (with the block's checksum),
 * which is how a staged placeholder becomes a device or a FIFO. Only what {@code mke2fs} and {@code
 * debugfs} write with Kiln's features is supported (extents; no inline data). Not thread-safe.
 */
final class Ext4Dirs {
  static final long ROOT_INO = 2;
  static final int FT_REG = 1;
  static final int FT_DIR = 2;
  static final int FT_CHR = 3;
  static final int FT_BLK = 4;
  static final int FT_FIFO = 5;
  static final int FT_SOCK = 6;
  static final int FT_SYMLINK = 7;

  /** One directory entry and where it is on the disk (for {@link #setFileType}). */
  record Dirent(String name, long ino, int fileType, long dirIno, long blockPos, int offset) {}

  private final Ext4Inodes fs;
  private final int bs;

  Ext4Dirs(Ext4Inodes fs) {
    this.fs = fs;
    this.bs = fs.blockSize;
  }

  Ext4Inodes inodes() {
    return fs;
  }

  /** The entries of a directory, without "." and "..", in on-disk order. */
  List<Dirent> list(long dirIno) throws IOException {
    ByteBuffer inode = fs.inode(dirIno);
    if ((inode.getShort(0) & 0170000) != 0040000) {
      throw new IOException("inode " + dirIno + " is not a directory");
    }
    List<Dirent> out = new ArrayList<>();
    byte[] block = new byte[bs];
    ByteBuffer b = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN);
    for (long[] run : extents(inode, dirIno)) {
      if (run[3] != 0) {
        continue; // uninitialized: reads as zeros
      }
      for (long k = 0; k < run[2]; k++) {
        long pos = fs.offset() + (run[1] + k) * bs;
        DiskFiles.readFully(fs.channel(), ByteBuffer.wrap(block), pos);
        int off = 0;
        while (off + 8 <= bs) {
          long ino = b.getInt(off) & 0xffffffffL;
          int recLen = b.getShort(off + 4) & 0xffff;
          int nameLen = block[off + 6] & 0xff;
          int ft = block[off + 7] & 0xff;
          if (recLen < 8 || off + recLen > bs || 8 + nameLen > recLen) {
            throw new IOException(
                "corrupt directory block of inode " + dirIno + " at byte " + pos + "+" + off);
          }
          if (ino != 0 && nameLen > 0) {
            String name = new String(block, off + 8, nameLen, StandardCharsets.UTF_8);
            if (!name.equals(".") && !name.equals("..")) {
              out.add(new Dirent(name, ino, ft, dirIno, pos, off));
            }
          }
          off += recLen;
        }
      }
    }
    return out;
  }

  /**
   * Every path below the root (no leading slash) and its entry; directories are entered depth
   * first.
   */
  Map<String, Dirent> walk() throws IOException {
    Map<String, Dirent> out = new HashMap<>();
    Deque<Object[]> todo = new ArrayDeque<>();
    todo.push(new Object[] {ROOT_INO, ""});
    while (!todo.isEmpty()) {
      Object[] d = todo.pop();
      String prefix = (String) d[1];
      for (Dirent e : list((Long) d[0])) {
        String path = prefix.isEmpty() ? e.name() : prefix + "/" + e.name();
        out.put(path, e);
        if (typeOf(e) == Type.DIRECTORY) {
          todo.push(new Object[] {e.ino(), path});
        }
      }
    }
    return out;
  }

  /**
   * The type of an entry: from the directory entry, or from its inode when the entry does not say.
   */
  Type typeOf(Dirent e) throws IOException {
    return switch (e.fileType()) {
      case FT_REG -> Type.FILE;
      case FT_DIR -> Type.DIRECTORY;
      case FT_CHR -> Type.CHAR_DEVICE;
      case FT_BLK -> Type.BLOCK_DEVICE;
      case FT_FIFO -> Type.FIFO;
      case FT_SYMLINK -> Type.SYMLINK;
      default -> Ext4Tree.typeOfMode(fs.inode(e.ino()).getShort(0) & 0xffff);
    };
  }

  static int fileType(Type t) {
    return switch (t) {
      case FILE -> FT_REG;
      case DIRECTORY -> FT_DIR;
      case CHAR_DEVICE -> FT_CHR;
      case BLOCK_DEVICE -> FT_BLK;
      case FIFO -> FT_FIFO;
      case SYMLINK -> FT_SYMLINK;
      default -> throw new IllegalArgumentException(t.toString());
    };
  }

  /** The target of a symlink: in the inode (a fast symlink) or in its data block. */
  String readSymlink(long ino) throws IOException {
    ByteBuffer inode = fs.inode(ino);
    if ((inode.getShort(0) & 0170000) != 0120000) {
      throw new IOException("inode " + ino + " is not a symlink");
    }
    long size = (inode.getInt(0x4) & 0xffffffffL) | ((inode.getInt(0x6C) & 0xffffffffL) << 32);
    if (size > 65536) {
      throw new IOException("symlink inode " + ino + " is " + size + " bytes long");
    }
    byte[] target = new byte[(int) size];
    if (size < 60 && (inode.getInt(0x20) & Ext4Inodes.EXTENTS_FL) == 0) {
      inode.get(0x28, target);
    } else {
      int got = 0;
      for (long[] run : extents(inode, ino)) {
        for (long k = 0; k < run[2] && got < size; k++) {
          int n = (int) Math.min(bs, size - got);
          if (run[3] == 0) {
            DiskFiles.readFully(
                fs.channel(), ByteBuffer.wrap(target, got, n), fs.offset() + (run[1] + k) * bs);
          }
          got += n;
        }
      }
    }
    return new String(target, StandardCharsets.UTF_8);
  }

  /**
   * Changes the file type byte of a directory entry and, with metadata checksums, the checksum in
   * the tail of its block.
   */
  void setFileType(Dirent e, int fileType) throws IOException {
    byte[] block = new byte[bs];
    ByteBuffer b = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN);
    DiskFiles.readFully(fs.channel(), ByteBuffer.wrap(block), e.blockPos());
    block[e.offset() + 7] = (byte) fileType;
    int t = bs - 12;
    boolean tail =
        b.getInt(t) == 0
            && (b.getShort(t + 4) & 0xffff) == 12
            && block[t + 6] == 0
            && (block[t + 7] & 0xff) == 0xDE;
    if (fs.metadataCsum() && tail) {
      int gen = fs.inode(e.dirIno()).getInt(0x64);
      int crc = Crc32c.updateInt(fs.csumSeed(), (int) e.dirIno());
      crc = Crc32c.updateInt(crc, gen);
      crc = Crc32c.update(crc, block, 0, t);
      b.putInt(t + 8, crc);
    }
    DiskFiles.writeFully(fs.channel(), ByteBuffer.wrap(block), e.blockPos());
  }

  /** The data of an inode as runs {logical block, physical block, length, uninitialized?1:0}. */
  private List<long[]> extents(ByteBuffer inode, long ino) throws IOException {
    if ((inode.getInt(0x20) & Ext4Inodes.EXTENTS_FL) == 0) {
      throw new IOException("inode " + ino + " does not use extents: not a file system Kiln wrote");
    }
    ByteBuffer root = ByteBuffer.allocate(60).order(ByteOrder.LITTLE_ENDIAN);
    root.put(0, inode.array(), 0x28, 60);
    List<long[]> out = new ArrayList<>();
    collect(root, ino, out, 0);
    return out;
  }

  private void collect(ByteBuffer node, long ino, List<long[]> out, int level) throws IOException {
    if ((node.getShort(0) & 0xffff) != 0xF30A || level > 5) {
      throw new IOException("corrupt extent tree in inode " + ino);
    }
    int entries = node.getShort(2) & 0xffff;
    int depth = node.getShort(6) & 0xffff;
    for (int i = 0; i < entries; i++) {
      int e = 12 + i * 12;
      if (depth == 0) {
        long lblk = node.getInt(e) & 0xffffffffL;
        int len = node.getShort(e + 4) & 0xffff;
        long start = ((node.getShort(e + 6) & 0xffffL) << 32) | (node.getInt(e + 8) & 0xffffffffL);
        boolean uninit = len > 32768;
        out.add(new long[] {lblk, start, uninit ? len - 32768 : len, uninit ? 1 : 0});
      } else {
        long leaf = (node.getInt(e + 4) & 0xffffffffL) | ((node.getShort(e + 8) & 0xffffL) << 32);
        ByteBuffer child = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
        DiskFiles.readFully(fs.channel(), child, fs.offset() + leaf * bs);
        collect(child, ino, out, level + 1);
      }
    }
  }
}
