package dev.kiln.disk;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The EFI system partition: a FAT32 holding GRUB's core image as {@code \EFI\BOOT\BOOTX64.EFI} (or
 * {@code BOOTAA64.EFI}), its configuration embedded (empty when there is no kernel: a data disk).
 * An extended disk keeps its base disk's ESP unless that no longer embeds the configuration that
 * boots the kernel the layers leave.
 */
final class Esp {
  private Esp() {}

  /** The bytes of the ESP of a disk laid out as {@code l} that boots {@code kernel}, if present. */
  static byte[] image(
      DiskOptions options,
      BootArchitecture arch,
      HostTools tools,
      Optional<Kernel> kernel,
      DiskLayout l,
      Path work)
      throws DiskException {
    Fat32 fat = new Fat32(l.esp().size(), l.espSerial(), options.timestamp(), l.esp().firstLba());
    if (kernel.isPresent()) {
      String cfg = Grub.config(kernel.get(), l.fsUuid(), l.root().guid(), options, arch);
      fat.add(arch.bootFile(), Grub.image(tools, cfg, work, arch));
    }
    return fat.image();
  }

  /**
   * Whether the ESP of {@code disk} (read through {@code ch}) already boots {@code kernel} with
   * {@code options}: its boot loader embeds the very configuration a new one would.
   */
  static boolean boots(
      FileChannel ch, DiskImage disk, Kernel kernel, DiskOptions options, BootArchitecture arch)
      throws IOException {
    String cfg = Grub.config(kernel, disk.fsUuid(), disk.rootPartition(), options, arch);
    byte[] efi = Fat32.readFile(ch, disk.espOffset(), arch.bootFile());
    return efi != null && Grub.embeds(efi, cfg);
  }
}
