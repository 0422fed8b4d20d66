package dev.kiln.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;

/**
 * Pins the time fields of an ext4 superblock (mount, write, last check, creation) to one instant
 * and recomputes its checksum; mke2fs honours {@code E2FSPROGS_FAKE_TIME} but a later {@code
 * debugfs -w} stamps the write time with the clock. Writes only if something changed.
 */
final class SuperblockTimes {
  private SuperblockTimes() {}

  static boolean pin(FileChannel ch, long fsOffset, long t) throws IOException {
    ByteBuffer sb = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
    DiskFiles.readFully(ch, sb, fsOffset + 1024);
    byte[] before = sb.array().clone();
    for (int off : new int[] {0x2C, 0x30, 0x40, 0x108}) {
      if (sb.getInt(off) != 0) {
        sb.putInt(off, (int) t);
      }
    }
    for (int off : new int[] {0x274, 0x275, 0x276, 0x277}) {
      sb.put(off, (byte) 0);
    }
    if ((sb.getInt(0x64) & Ext4Inodes.RO_COMPAT_METADATA_CSUM) != 0) {
      sb.putInt(0x3FC, Crc32c.update(~0, sb.array(), 0, 0x3FC));
    }
    if (java.util.Arrays.equals(before, sb.array())) {
      return false;
    }
    DiskFiles.writeFully(ch, ByteBuffer.wrap(sb.array()), fsOffset + 1024);
    return true;
  }
}
