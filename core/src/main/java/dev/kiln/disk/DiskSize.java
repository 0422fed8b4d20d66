package dev.kiln.disk;

import dev.kiln.spi.LayerEntry.Type;
import java.util.Map;
import java.util.TreeMap;

/**
 * How large a new disk is: the size {@link DiskOptions} gives, or automatically the ESP, the
 * smallest ext4 (as {@link Mke2fs} makes it) that holds the staged content, the free space asked
 * for and the GPT's room, rounded up to a whole GiB. A given size too small for the content is an
 * error that says what is needed.
 */
final class DiskSize {
  private static final long MIB = DiskOptions.MIB;
  private static final long GIB = DiskOptions.GIB;
  private static final int BLOCK = Mke2fs.BLOCK;

  private DiskSize() {}

  /** The size of the disk of {@code staging} with {@code options}. */
  static long of(Staging staging, DiskOptions options) throws DiskException {
    long fsMin = minFsBytes(staging);
    long needed = MIB + options.espSize() + fsMin + MIB;
    long size = options.size().orElse(DiskBuilder.roundUp(needed + options.freeSpace(), GIB));
    if (size < needed) {
      throw new DiskException(
          "disk size "
              + DiskBuilder.human(size)
              + " is too small for the content: it needs at least "
              + DiskBuilder.human(needed)
              + " ("
              + DiskBuilder.human(contentBytes(staging))
              + " of files, "
              + staging.entries().size()
              + " entries, plus the ESP and file system overhead): use DiskOptions.size("
              + DiskBuilder.roundUp(needed, MIB)
              + "L) or more, or the automatic size");
    }
    return size;
  }

  /** The smallest ext4 file system (bytes, whole MiB) that holds the staged content. */
  private static long minFsBytes(Staging s) {
    long data = dataBlocks(s, BLOCK) * BLOCK;
    long inodesNeeded = s.entries().size() + 1024L;
    long f = Math.max(data, 64 * MIB);
    for (int i = 0; i < 20; i++) {
      long blocks = f / BLOCK;
      long journal = journalBlocks(blocks) * BLOCK;
      long itable = (f / Mke2fs.INODE_RATIO) * Mke2fs.INODE_SIZE;
      long groups = (blocks + 32767) / 32768;
      long overhead = journal + itable + groups * 3 * BLOCK + 16 * MIB;
      long next = Math.max((data + overhead) * 101 / 100, inodesNeeded * Mke2fs.INODE_RATIO);
      next = DiskBuilder.roundUp(next, MIB);
      if (next <= f) {
        return f;
      }
      f = next;
    }
    return f;
  }

  /** e2fsprogs' ext2fs_default_journal_size. */
  private static long journalBlocks(long blocks) {
    if (blocks < 32768) {
      return 1024;
    } else if (blocks < 256 * 1024) {
      return 4096;
    } else if (blocks < 512 * 1024) {
      return 8192;
    } else if (blocks < 4096 * 1024) {
      return 16384;
    } else if (blocks < 8192 * 1024) {
      return 32768;
    } else if (blocks < 16384 * 1024) {
      return 65536;
    } else if (blocks < 32768 * 1024) {
      return 131072;
    }
    return 262144;
  }

  /** Bytes of staged file content, counting hard-linked files once. */
  private static long contentBytes(Staging s) {
    long n = 0;
    for (Staging.Meta m : s.entries().values()) {
      if (m.type() == Type.FILE && !m.hardlink()) {
        n += m.size();
      }
    }
    return n;
  }

  /**
   * File system blocks of {@code blockSize} the staged content needs beyond inodes: file data
   * rounded up to whole blocks, one or more blocks per directory, a block for each long symlink
   * target and for each inode with extended attributes.
   */
  private static long dataBlocks(Staging s, int blockSize) {
    long blocks = 1;
    Map<String, Long> dirBytes = new TreeMap<>();
    for (Map.Entry<String, Staging.Meta> en : s.entries().entrySet()) {
      Staging.Meta m = en.getValue();
      String p = en.getKey();
      int slash = p.lastIndexOf('/');
      String parent = slash < 0 ? "" : p.substring(0, slash);
      dirBytes.merge(parent, 12L + ((p.length() - slash - 1 + 3) & ~3L), Long::sum);
      switch (m.type()) {
        case FILE -> {
          if (!m.hardlink()) {
            long b = (m.size() + blockSize - 1) / blockSize;
            blocks += b + b / 340; // extent tree blocks for very fragmented large files
          }
        }
        case SYMLINK -> blocks += m.linkTarget().length() >= 60 ? 1 : 0;
        default -> {}
      }
      if (!m.xattrs().isEmpty()) {
        blocks++;
      }
    }
    for (long bytes : dirBytes.values()) {
      blocks += 1 + bytes * 5 / 4 / blockSize; // htree index blocks and slack
    }
    return blocks;
  }
}
