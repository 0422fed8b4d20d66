package dev.kiln.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.UUID;

/**
 * A raw GPT disk image that {@link DiskBuilder} wrote (or read back from a file): where it is, its
 * identifiers, the partitions' byte ranges, and the kernel it boots. Immutable and thread-safe.
 *
 * @param path the image file
 * @param size its size in bytes
 * @param diskGuid the GPT disk GUID
 * @param espPartition the EFI system partition's unique GUID
 * @param rootPartition the root partition's unique GUID (the kernel's {@code root=PARTUUID=})
 * @param fsUuid the ext4 file system UUID
 * @param espOffset byte offset of the ESP
 * @param espSize byte size of the ESP
 * @param rootOffset byte offset of the root partition ({@code debugfs 'disk.img?offset=N'} reads
 *     it)
 * @param rootSize byte size of the root partition
 * @param kernel the kernel the boot loader loads, absent for a data disk (and when read back from a
 *     file)
 * @param initrd the initramfs it loads, if any
 */
public record DiskImage(
    Path path,
    long size,
    UUID diskGuid,
    UUID espPartition,
    UUID rootPartition,
    UUID fsUuid,
    long espOffset,
    long espSize,
    long rootOffset,
    long rootSize,
    Optional<String> kernel,
    Optional<String> initrd) {

  /** Reads the layout of a disk that Kiln built: GPT (checked), ESP first, ext4 root second. */
  public static DiskImage read(Path disk) throws IOException {
    try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
      Gpt gpt = Gpt.read(ch);
      checkLayout(disk, gpt);
      Gpt.Partition esp = gpt.partitions().get(0);
      Gpt.Partition root = gpt.partitions().get(1);
      Ext4Inodes fs = new Ext4Inodes(ch, root.offset());
      return new DiskImage(
          disk,
          gpt.diskBytes(),
          gpt.diskGuid(),
          esp.guid(),
          root.guid(),
          fs.uuid,
          esp.offset(),
          esp.size(),
          root.offset(),
          root.size(),
          Optional.empty(),
          Optional.empty());
    }
  }

  private static BootArchitecture checkLayout(Path disk, Gpt gpt) throws IOException {
    BootArchitecture arch =
        gpt.partitions().size() == 2
            ? BootArchitecture.ofRootType(gpt.partitions().get(1).type())
            : null;
    if (arch == null || !gpt.partitions().get(0).type().equals(Gpt.ESP_TYPE)) {
      throw new IOException(
          disk
              + " is not a disk Kiln built: expected an EFI system partition and an x86-64 or ARM64"
              + " root partition, found "
              + gpt.partitions());
    }
    return arch;
  }

  /** The architecture of a disk Kiln built, by the type of its root partition. */
  static BootArchitecture architecture(Path disk) throws IOException {
    try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
      return checkLayout(disk, Gpt.read(ch));
    }
  }

  /** The FAT volume serial of the ESP. */
  int espSerial() throws IOException {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      DiskFiles.readFully(ch, b, espOffset + 67);
      return b.getInt(0);
    }
  }
}
