package dev.kiln.disk;

import static com.google.common.base.Preconditions.checkArgument;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A FAT32 file system image written in Java, for the EFI system partition: no mkfs.vfat, no mtools,
 * no mount. Deterministic: clusters are allocated in name order, all times are one fixed instant,
 * the volume serial is given. Names are 8.3 upper case (all UEFI needs: {@code
 * EFI/BOOT/BOOTX64.EFI}); there are no long-name entries.
 *
 * <pre>{@code
 * byte[] esp = new Fat32(64 << 20, 0x1234abcd, 1, 2048).add("EFI/BOOT/BOOTX64.EFI", grub).image();
 * }</pre>
 *
 * Not thread-safe.
 */
final class Fat32 {
  private static final int SECTOR = 512;
  private static final int RESERVED = 32;
  private static final int EOC = 0x0FFFFFFF;
  private static final Pattern SHORT_NAME =
      Pattern.compile("[A-Z0-9_\\-~!#$%&'(){}^@`]{1,8}(\\.[A-Z0-9_\\-~!#$%&'(){}^@`]{1,3})?");

  private final long size;
  private final int serial;
  private final long epochSeconds;
  private final long hiddenSectors;
  private final Dir root = new Dir();

  /** A file system of {@code size} bytes starting at sector {@code hiddenSectors} of its disk. */
  Fat32(long size, int serial, long epochSeconds, long hiddenSectors) {
    checkArgument(size % SECTOR == 0 && size <= Integer.MAX_VALUE, "bad FAT32 size %s", size);
    this.size = size;
    this.serial = serial;
    this.epochSeconds = epochSeconds;
    this.hiddenSectors = hiddenSectors;
  }

  private static final class Dir {
    final Map<String, Object> children = new TreeMap<>(); // name -> Dir or byte[]
    int cluster;
  }

  /**
   * Adds a file at a {@code /}-separated path of 8.3 upper-case names; parent directories are
   * implied.
   */
  Fat32 add(String path, byte[] content) {
    String[] parts = path.split("/");
    Dir d = root;
    for (int i = 0; i < parts.length; i++) {
      String n = parts[i];
      checkArgument(
          SHORT_NAME.matcher(n).matches(), "not an upper-case 8.3 FAT name: '%s' in %s", n, path);
      if (i == parts.length - 1) {
        checkArgument(!d.children.containsKey(n), "duplicate FAT path %s", path);
        d.children.put(n, content.clone());
      } else {
        Object o = d.children.computeIfAbsent(n, k -> new Dir());
        checkArgument(o instanceof Dir, "%s is a file, not a directory, in %s", n, path);
        d = (Dir) o;
      }
    }
    return this;
  }

  /** The whole file system image, {@code size} bytes. */
  byte[] image() {
    long totalSectors = size / SECTOR;
    int spc = size <= 260L * 1024 * 1024 ? 1 : 8;
    int clusterBytes = spc * SECTOR;
    long fatSectors = 1;
    long clusters;
    while (true) {
      clusters = (totalSectors - RESERVED - 2 * fatSectors) / spc;
      long need = ((clusters + 2) * 4 + SECTOR - 1) / SECTOR;
      if (need <= fatSectors) {
        break;
      }
      fatSectors = need;
    }
    checkArgument(
        clusters >= 65525,
        "a FAT32 file system needs at least 65525 clusters; %s bytes give %s: make the ESP at least 33 MiB",
        size,
        clusters);
    long dataStart = RESERVED + 2 * fatSectors;
    byte[] img = new byte[(int) size];
    ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);

    // allocate clusters: directories and files in breadth-first, name order
    int[] fat = new int[(int) (clusters + 2)];
    fat[0] = 0x0FFFFFF8;
    fat[1] = EOC;
    int[] next = {2};
    List<Object[]> writes = new ArrayList<>(); // {Dir or byte[], cluster, parentCluster}
    root.cluster =
        alloc(fat, next, Math.max(1, clusterCount(root.children.size() * 32L, clusterBytes)));
    List<Dir> queue = new ArrayList<>(List.of(root));
    for (int qi = 0; qi < queue.size(); qi++) {
      Dir d = queue.get(qi);
      for (Object o : d.children.values()) {
        if (o instanceof Dir sub) {
          sub.cluster =
              alloc(
                  fat,
                  next,
                  Math.max(1, clusterCount((sub.children.size() + 2) * 32L, clusterBytes)));
          queue.add(sub);
        } else {
          byte[] data = (byte[]) o;
          int first =
              data.length == 0 ? 0 : alloc(fat, next, clusterCount(data.length, clusterBytes));
          writes.add(new Object[] {data, first});
        }
      }
    }
    checkArgument(next[0] <= clusters + 2, "the ESP content does not fit in %s bytes", size);
    int dosTime = dosTime();
    int dosDate = dosDate();
    // directory contents
    for (Dir d : queue) {
      ByteBuffer dir =
          ByteBuffer.allocate(d.children.size() * 32 + 64).order(ByteOrder.LITTLE_ENDIAN);
      if (d != root) {
        entry(dir, ".          ", 0x10, d.cluster, 0, dosTime, dosDate);
        int parent = parentCluster(d);
        entry(dir, "..         ", 0x10, parent == root.cluster ? 0 : parent, 0, dosTime, dosDate);
      }
      for (Map.Entry<String, Object> e : d.children.entrySet()) {
        if (e.getValue() instanceof Dir sub) {
          entry(dir, shortName(e.getKey()), 0x10, sub.cluster, 0, dosTime, dosDate);
        } else {
          byte[] data = (byte[]) e.getValue();
          entry(
              dir,
              shortName(e.getKey()),
              0x20,
              firstClusterOf(writes, data),
              data.length,
              dosTime,
              dosDate);
        }
      }
      writeChain(img, fat, d.cluster, dir.array(), dir.position(), dataStart, spc);
    }
    for (Object[] w : writes) {
      byte[] data = (byte[]) w[0];
      if (data.length > 0) {
        writeChain(img, fat, (Integer) w[1], data, data.length, dataStart, spc);
      }
    }
    // boot sector, FSInfo, backups
    ByteBuffer bs = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
    bs.put(new byte[] {(byte) 0xEB, 0x58, (byte) 0x90});
    bs.put("KILN    ".getBytes(StandardCharsets.US_ASCII));
    bs.putShort((short) SECTOR);
    bs.put((byte) spc);
    bs.putShort((short) RESERVED);
    bs.put((byte) 2);
    bs.putShort((short) 0);
    bs.putShort((short) 0);
    bs.put((byte) 0xF8);
    bs.putShort((short) 0);
    bs.putShort((short) 32);
    bs.putShort((short) 64);
    bs.putInt((int) hiddenSectors);
    bs.putInt((int) totalSectors);
    bs.putInt((int) fatSectors);
    bs.putShort((short) 0);
    bs.putShort((short) 0);
    bs.putInt(root.cluster);
    bs.putShort((short) 1);
    bs.putShort((short) 6);
    bs.position(64);
    bs.put((byte) 0x80);
    bs.put((byte) 0);
    bs.put((byte) 0x29);
    bs.putInt(serial);
    bs.put("NO NAME    ".getBytes(StandardCharsets.US_ASCII));
    bs.put("FAT32   ".getBytes(StandardCharsets.US_ASCII));
    // boot code: print nothing, just halt (this volume is not meant to be booted by a BIOS)
    bs.position(90);
    bs.put(new byte[] {(byte) 0xFA, (byte) 0xF4, (byte) 0xEB, (byte) 0xFD});
    bs.put(510, (byte) 0x55).put(511, (byte) 0xAA);
    long used = next[0] - 2;
    ByteBuffer fsinfo = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
    fsinfo.putInt(0, 0x41615252);
    fsinfo.putInt(484, 0x61417272);
    fsinfo.putInt(488, (int) (clusters - used));
    fsinfo.putInt(492, next[0]);
    fsinfo.putInt(508, 0xAA550000);
    System.arraycopy(bs.array(), 0, img, 0, SECTOR);
    System.arraycopy(fsinfo.array(), 0, img, SECTOR, SECTOR);
    System.arraycopy(bs.array(), 0, img, 6 * SECTOR, SECTOR);
    System.arraycopy(fsinfo.array(), 0, img, 7 * SECTOR, SECTOR);
    for (int copy = 0; copy < 2; copy++) {
      int base = (int) ((RESERVED + copy * fatSectors) * SECTOR);
      for (int i = 0; i < next[0]; i++) {
        b.putInt(base + i * 4, fat[i]);
      }
    }
    return img;
  }

  /**
   * Reads a file (a {@code /}-separated path of 8.3 names) from a FAT32 file system at byte {@code
   * pos} of {@code ch}, or returns null if it is not there: enough to read back what {@link
   * #image()} wrote.
   */
  static byte[] readFile(java.nio.channels.FileChannel ch, long pos, String path)
      throws java.io.IOException {
    ByteBuffer bs = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
    DiskFiles.readFully(ch, bs, pos);
    int bytesPerSector = bs.getShort(11) & 0xffff;
    int spc = bs.get(13) & 0xff;
    int reserved = bs.getShort(14) & 0xffff;
    int fats = bs.get(16) & 0xff;
    long fatSectors = bs.getInt(36) & 0xffffffffL;
    int rootCluster = bs.getInt(44);
    if ((bs.getShort(510) & 0xffff) != 0xAA55
        || bytesPerSector != SECTOR
        || spc == 0
        || fats == 0
        || fatSectors == 0
        || fatSectors * SECTOR > Integer.MAX_VALUE) {
      return null;
    }
    ByteBuffer fat =
        ByteBuffer.allocate((int) (fatSectors * SECTOR)).order(ByteOrder.LITTLE_ENDIAN);
    DiskFiles.readFully(ch, fat, pos + (long) reserved * SECTOR);
    long dataStart = pos + (reserved + fats * fatSectors) * SECTOR;
    int clusterBytes = spc * SECTOR;
    int cluster = rootCluster;
    long size = -1;
    String[] parts = path.split("/");
    for (int i = 0; i < parts.length; i++) {
      byte[] dir = chain(ch, fat, dataStart, clusterBytes, cluster, Integer.MAX_VALUE);
      String want = shortName(parts[i]);
      int found = -1;
      for (int o = 0; o + 32 <= dir.length && dir[o] != 0; o += 32) {
        if ((dir[o] & 0xff) != 0xE5
            && (dir[o + 11] & 0x0f) != 0x0f
            && new String(dir, o, 11, StandardCharsets.US_ASCII).equals(want)) {
          found = o;
          break;
        }
      }
      if (found < 0) {
        return null;
      }
      ByteBuffer e = ByteBuffer.wrap(dir, found, 32).order(ByteOrder.LITTLE_ENDIAN);
      cluster = ((e.getShort(found + 20) & 0xffff) << 16) | (e.getShort(found + 26) & 0xffff);
      boolean isDir = (dir[found + 11] & 0x10) != 0;
      if (isDir != (i < parts.length - 1)) {
        return null;
      }
      size = e.getInt(found + 28) & 0xffffffffL;
    }
    if (size > Integer.MAX_VALUE - 8) {
      return null;
    }
    return size == 0 ? new byte[0] : chain(ch, fat, dataStart, clusterBytes, cluster, (int) size);
  }

  /** The bytes of a cluster chain, up to {@code limit}. */
  private static byte[] chain(
      java.nio.channels.FileChannel ch,
      ByteBuffer fat,
      long dataStart,
      int clusterBytes,
      int first,
      int limit)
      throws java.io.IOException {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    byte[] buf = new byte[clusterBytes];
    int c = first;
    int guard = fat.capacity() / 4;
    while (c >= 2 && c < 0x0FFFFFF8 && out.size() < limit && guard-- > 0) {
      if ((long) c * 4 + 4 > fat.capacity()) {
        throw new java.io.IOException("FAT cluster " + c + " out of range");
      }
      DiskFiles.readFully(ch, ByteBuffer.wrap(buf), dataStart + (long) (c - 2) * clusterBytes);
      out.write(buf, 0, Math.min(clusterBytes, limit - out.size()));
      c = fat.getInt(c * 4) & 0x0FFFFFFF;
    }
    return out.toByteArray();
  }

  private int parentCluster(Dir child) {
    List<Dir> queue = new ArrayList<>(List.of(root));
    for (int i = 0; i < queue.size(); i++) {
      for (Object o : queue.get(i).children.values()) {
        if (o == child) {
          return queue.get(i).cluster;
        }
        if (o instanceof Dir d) {
          queue.add(d);
        }
      }
    }
    throw new IllegalStateException("orphan directory");
  }

  private static int firstClusterOf(List<Object[]> writes, byte[] data) {
    for (Object[] w : writes) {
      if (w[0] == data) {
        return (Integer) w[1];
      }
    }
    throw new IllegalStateException("unallocated file");
  }

  private static int clusterCount(long bytes, int clusterBytes) {
    return (int) ((bytes + clusterBytes - 1) / clusterBytes);
  }

  private static int alloc(int[] fat, int[] next, int count) {
    int first = next[0];
    checkArgument(first + count <= fat.length, "the ESP content does not fit");
    for (int i = 0; i < count; i++) {
      fat[first + i] = i == count - 1 ? EOC : first + i + 1;
    }
    next[0] += count;
    return first;
  }

  private static void writeChain(
      byte[] img, int[] fat, int first, byte[] data, int len, long dataStart, int spc) {
    int clusterBytes = spc * SECTOR;
    int c = first;
    for (int off = 0; off < len; off += clusterBytes) {
      long pos = (dataStart + (long) (c - 2) * spc) * SECTOR;
      System.arraycopy(data, off, img, (int) pos, Math.min(clusterBytes, len - off));
      c = fat[c];
    }
  }

  private static void entry(
      ByteBuffer dir, String name11, int attr, int cluster, int size, int time, int date) {
    int o = dir.position();
    dir.put(name11.getBytes(StandardCharsets.US_ASCII));
    dir.put((byte) attr);
    dir.put((byte) 0);
    dir.put((byte) 0);
    dir.putShort((short) time);
    dir.putShort((short) date);
    dir.putShort((short) date);
    dir.putShort((short) (cluster >>> 16));
    dir.putShort((short) time);
    dir.putShort((short) date);
    dir.putShort((short) cluster);
    dir.putInt(size);
    dir.position(o + 32);
  }

  static String shortName(String n) {
    int dot = n.indexOf('.');
    String base = dot < 0 ? n : n.substring(0, dot);
    String ext = dot < 0 ? "" : n.substring(dot + 1);
    return String.format("%-8s%-3s", base, ext);
  }

  private LocalDateTime when() {
    LocalDateTime t = LocalDateTime.ofEpochSecond(epochSeconds, 0, ZoneOffset.UTC);
    LocalDateTime min = LocalDateTime.of(1980, 1, 1, 0, 0);
    LocalDateTime max = LocalDateTime.of(2107, 12, 31, 23, 59, 58);
    return t.isBefore(min) ? min : t.isAfter(max) ? max : t;
  }

  private int dosTime() {
    LocalDateTime t = when();
    return (t.getHour() << 11) | (t.getMinute() << 5) | (t.getSecond() / 2);
  }

  private int dosDate() {
    LocalDateTime t = when();
    return ((t.getYear() - 1980) << 9) | (t.getMonthValue() << 5) | t.getDayOfMonth();
  }
}
