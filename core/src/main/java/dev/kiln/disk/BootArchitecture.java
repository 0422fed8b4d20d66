package dev.kiln.disk;

import dev.kiln.Platform;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * What differs between the disks of two CPU architectures: GRUB's target and its modules, the file
 * UEFI firmware boots from a removable disk, the GPT type of the root partition (Discoverable
 * Partitions Specification), the serial consoles, and the Debian packages that provide the modules
 * and a kernel. Everything else (ext4, FAT32, GPT, the layered layout) is the same.
 */
enum BootArchitecture {
  X86_64(
      Platform.LINUX_AMD64,
      "x86_64-efi",
      "grub-efi-amd64-bin",
      "EFI/BOOT/BOOTX64.EFI",
      Gpt.ROOT_X86_64_TYPE,
      DiskOptions.DEFAULT_CONSOLES,
      List.of("efi_gop", "efi_uga"),
      "linux-image-cloud-amd64"),
  /**
   * 64-bit Arm. Debian's arm64 {@code vmlinuz} is a gzip-compressed EFI-stub Image, so GRUB needs
   * {@code gzio}. Consoles: {@code ttyS0} is the serial console of EC2 Graviton instances (a
   * 16550-compatible UART), {@code ttyAMA0} the PL011 of QEMU's {@code virt} machine and most Arm
   * boards; the one that exists gets the boot log and {@code /dev/console}.
   */
  ARM64(
      Platform.LINUX_ARM64,
      "arm64-efi",
      "grub-efi-arm64-bin",
      "EFI/BOOT/BOOTAA64.EFI",
      Gpt.ROOT_ARM64_TYPE,
      DiskOptions.DEFAULT_ARM64_CONSOLES,
      List.of("efi_gop", "gzio"),
      "linux-image-cloud-arm64");

  private final Platform platform;
  private final String grubTarget;
  private final String grubPackage;
  private final String bootFile;
  private final UUID rootType;
  private final List<String> consoles;
  private final List<String> extraModules;
  private final String kernelPackage;

  BootArchitecture(
      Platform platform,
      String grubTarget,
      String grubPackage,
      String bootFile,
      UUID rootType,
      List<String> consoles,
      List<String> extraModules,
      String kernelPackage) {
    this.platform = platform;
    this.grubTarget = grubTarget;
    this.grubPackage = grubPackage;
    this.bootFile = bootFile;
    this.rootType = rootType;
    this.consoles = consoles;
    this.extraModules = extraModules;
    this.kernelPackage = kernelPackage;
  }

  /**
   * The architecture of the disks of images of {@code platform}: {@code linux/amd64} or {@code
   * linux/arm64} (any variant).
   *
   * @throws DiskException for any other platform, naming the ones disks are made for
   */
  static BootArchitecture of(Platform platform) throws DiskException {
    if (platform.os().equals("linux")) {
      for (BootArchitecture a : values()) {
        if (a.platform.architecture().equals(platform.architecture())) {
          return a;
        }
      }
    }
    throw new DiskException(
        "Kiln makes disks for linux/amd64 and linux/arm64 images, not for "
            + platform
            + ": bake the image for one of those for this target");
  }

  /** The architecture whose root partition has GPT type {@code type}, or null. */
  static BootArchitecture ofRootType(UUID type) {
    for (BootArchitecture a : values()) {
      if (a.rootType.equals(type)) {
        return a;
      }
    }
    return null;
  }

  Platform platform() {
    return platform;
  }

  /** {@code grub-mkimage -O} and the name of the module directory. */
  String grubTarget() {
    return grubTarget;
  }

  /** The Debian package with the GRUB modules of this architecture. */
  String grubPackage() {
    return grubPackage;
  }

  /** The path on the ESP that firmware boots without NVRAM entries. */
  String bootFile() {
    return bootFile;
  }

  UUID rootType() {
    return rootType;
  }

  /** The default console arguments; the last one that exists becomes {@code /dev/console}. */
  List<String> consoles() {
    return consoles;
  }

  /** The modules of the core image besides those every architecture has. */
  List<String> extraModules() {
    return extraModules;
  }

  /** A Debian package that installs a kernel that boots these disks. */
  String kernelPackage() {
    return kernelPackage;
  }

  /** {@code amd64}, {@code arm64}: as messages name it. */
  String label() {
    return platform.architecture();
  }

  /**
   * The upper-case name in the environment variable that points at the module directory: {@code
   * KILN_GRUB_ARM64_EFI}.
   */
  String envName() {
    return "KILN_GRUB_" + grubTarget.replace('-', '_').toUpperCase(Locale.ROOT);
  }

  /** The system property that points at the module directory: {@code kiln.grub.arm64-efi}. */
  String propertyName() {
    return "kiln.grub." + grubTarget;
  }
}
