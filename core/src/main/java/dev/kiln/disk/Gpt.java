package dev.kiln.disk;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.zip.CRC32;

/**
 * A GUID partition table written and read in Java: protective MBR, primary header and 128 entries
 * at LBA 1-33, backup entries and header in the last 33 sectors, CRC32s over both. 512-byte
 * sectors. Immutable.
 */
final class Gpt {
  static final int SECTOR = 512;
  static final int ENTRIES = 128;
  static final int ENTRY_SIZE = 128;

  /** Sectors the entry array takes: 128 * 128 / 512. */
  static final int ENTRY_SECTORS = ENTRIES * ENTRY_SIZE / SECTOR;

  static final UUID ESP_TYPE = UUID.fromString("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");

  /** "Linux root (x86-64)" from the Discoverable Partitions Specification. */
  static final UUID ROOT_X86_64_TYPE = UUID.fromString("4f68bce3-e8cd-4db1-96e7-fbcaf984b709");

  /** "Linux root (ARM64)" from the Discoverable Partitions Specification. */
  static final UUID ROOT_ARM64_TYPE = UUID.fromString("b921b045-1df0-41c3-af44-4c6f280d3fae");

  /** One partition: inclusive LBA range. */
  record Partition(UUID type, UUID guid, long firstLba, long lastLba, String name) {
    Partition {
      checkArgument(
          firstLba <= lastLba, "partition %s: first LBA %s after last %s", name, firstLba, lastLba);
      checkArgument(name.length() <= 36, "partition name longer than 36 characters: %s", name);
    }

    long offset() {
      return firstLba * SECTOR;
    }

    long size() {
      return (lastLba - firstLba + 1) * SECTOR;
    }
  }

  private final long sectors;
  private final UUID diskGuid;
  private final List<Partition> partitions;

  Gpt(long diskBytes, UUID diskGuid, List<Partition> partitions) {
    checkArgument(
        diskBytes % SECTOR == 0, "disk size %s is not a multiple of %s", diskBytes, SECTOR);
    this.sectors = diskBytes / SECTOR;
    this.diskGuid = diskGuid;
    this.partitions = List.copyOf(partitions);
    checkArgument(this.partitions.size() <= ENTRIES, "too many partitions");
    long prevLast = firstUsableLba() - 1;
    for (Partition p : this.partitions) {
      checkArgument(p.firstLba() > prevLast, "partition %s overlaps the one before", p.name());
      checkArgument(
          p.lastLba() <= lastUsableLba(), "partition %s ends past the last usable LBA", p.name());
      prevLast = p.lastLba();
    }
  }

  long firstUsableLba() {
    return 2 + ENTRY_SECTORS;
  }

  long lastUsableLba() {
    return sectors - 2 - ENTRY_SECTORS;
  }

  long diskBytes() {
    return sectors * SECTOR;
  }

  UUID diskGuid() {
    return diskGuid;
  }

  List<Partition> partitions() {
    return partitions;
  }

  /** The first 34 sectors: protective MBR, primary header, entries. */
  byte[] primary() {
    ByteBuffer b = le(ByteBuffer.allocate((int) (firstUsableLba() * SECTOR)));
    // protective MBR: one partition of type 0xEE covering the disk (or as much as 32 bits can say)
    b.put(446, (byte) 0x00);
    b.put(447, (byte) 0x00).put(448, (byte) 0x02).put(449, (byte) 0x00);
    b.put(450, (byte) 0xEE);
    b.put(451, (byte) 0xFF).put(452, (byte) 0xFF).put(453, (byte) 0xFF);
    b.putInt(454, 1);
    b.putInt(458, (int) Math.min(sectors - 1, 0xFFFFFFFFL));
    b.put(510, (byte) 0x55).put(511, (byte) 0xAA);
    byte[] entries = entries();
    b.position(2 * SECTOR);
    b.put(entries);
    b.position(SECTOR);
    b.put(header(1, sectors - 1, 2, crc(entries)));
    return b.array();
  }

  /** The last 33 sectors: backup entries, then the backup header in the last sector. */
  byte[] backup() {
    ByteBuffer b = ByteBuffer.allocate((ENTRY_SECTORS + 1) * SECTOR);
    byte[] entries = entries();
    b.put(entries);
    b.put(header(sectors - 1, 1, sectors - 1 - ENTRY_SECTORS, crc(entries)));
    return b.array();
  }

  long backupOffset() {
    return (sectors - 1 - ENTRY_SECTORS) * SECTOR;
  }

  void write(FileChannel ch) throws IOException {
    DiskFiles.writeFully(ch, ByteBuffer.wrap(primary()), 0);
    DiskFiles.writeFully(ch, ByteBuffer.wrap(backup()), backupOffset());
  }

  private byte[] entries() {
    ByteBuffer b = le(ByteBuffer.allocate(ENTRIES * ENTRY_SIZE));
    for (int i = 0; i < partitions.size(); i++) {
      Partition p = partitions.get(i);
      int o = i * ENTRY_SIZE;
      b.position(o);
      b.put(Ids.guidBytes(p.type()));
      b.put(Ids.guidBytes(p.guid()));
      b.putLong(p.firstLba());
      b.putLong(p.lastLba());
      b.putLong(0L);
      b.put(p.name().getBytes(StandardCharsets.UTF_16LE));
    }
    return b.array();
  }

  private byte[] header(long myLba, long alternateLba, long entriesLba, int entriesCrc) {
    ByteBuffer h = le(ByteBuffer.allocate(SECTOR));
    h.put("EFI PART".getBytes(StandardCharsets.US_ASCII));
    h.putInt(0x00010000);
    h.putInt(92);
    h.putInt(0); // header CRC, filled below
    h.putInt(0);
    h.putLong(myLba);
    h.putLong(alternateLba);
    h.putLong(firstUsableLba());
    h.putLong(lastUsableLba());
    h.put(Ids.guidBytes(diskGuid));
    h.putLong(entriesLba);
    h.putInt(ENTRIES);
    h.putInt(ENTRY_SIZE);
    h.putInt(entriesCrc);
    CRC32 c = new CRC32();
    c.update(h.array(), 0, 92);
    h.putInt(16, (int) c.getValue());
    return h.array();
  }

  /** Reads and checks the primary GPT of a disk image (header and entry CRCs, signature). */
  static Gpt read(FileChannel ch) throws IOException {
    long size = ch.size();
    ByteBuffer b = le(ByteBuffer.allocate(34 * SECTOR));
    DiskFiles.readFully(ch, b, 0);
    byte[] a = b.array();
    if (!new String(a, SECTOR, 8, StandardCharsets.US_ASCII).equals("EFI PART")) {
      throw new IOException("not a GPT disk: no 'EFI PART' signature at LBA 1");
    }
    byte[] hdr = new byte[92];
    System.arraycopy(a, SECTOR, hdr, 0, 92);
    int storedCrc = b.getInt(SECTOR + 16);
    hdr[16] = hdr[17] = hdr[18] = hdr[19] = 0;
    CRC32 c = new CRC32();
    c.update(hdr);
    if ((int) c.getValue() != storedCrc) {
      throw new IOException("GPT header CRC mismatch");
    }
    long backupLba = b.getLong(SECTOR + 32);
    if ((backupLba + 1) * SECTOR != size) {
      throw new IOException(
          "GPT backup header at LBA "
              + backupLba
              + " but the disk has "
              + size / SECTOR
              + " sectors");
    }
    UUID disk = Ids.fromGuidBytes(a, SECTOR + 56);
    int n = b.getInt(SECTOR + 80);
    int esz = b.getInt(SECTOR + 84);
    if (n != ENTRIES || esz != ENTRY_SIZE || b.getLong(SECTOR + 72) != 2) {
      throw new IOException("unsupported GPT entry array: " + n + " entries of " + esz + " bytes");
    }
    byte[] entries = new byte[ENTRIES * ENTRY_SIZE];
    System.arraycopy(a, 2 * SECTOR, entries, 0, entries.length);
    if (crc(entries) != b.getInt(SECTOR + 88)) {
      throw new IOException("GPT entry array CRC mismatch");
    }
    List<Partition> parts = new ArrayList<>();
    for (int i = 0; i < ENTRIES; i++) {
      int o = 2 * SECTOR + i * ENTRY_SIZE;
      UUID type = Ids.fromGuidBytes(a, o);
      if (type.getMostSignificantBits() == 0 && type.getLeastSignificantBits() == 0) {
        continue;
      }
      String name = new String(a, o + 56, 72, StandardCharsets.UTF_16LE);
      int nul = name.indexOf('\0');
      parts.add(
          new Partition(
              type,
              Ids.fromGuidBytes(a, o + 16),
              b.getLong(o + 32),
              b.getLong(o + 40),
              nul < 0 ? name : name.substring(0, nul)));
    }
    return new Gpt(size, disk, parts);
  }

  private static int crc(byte[] bytes) {
    CRC32 c = new CRC32();
    c.update(bytes);
    return (int) c.getValue();
  }

  private static ByteBuffer le(ByteBuffer b) {
    return b.order(ByteOrder.LITTLE_ENDIAN);
  }
}
