package dev.kiln.vmware;

import java.util.Locale;

/** The firmware the virtual machine boots with ({@code vmw:Config firmware} in the descriptor). */
public enum Firmware {
  /**
   * UEFI: boots {@code \EFI\BOOT\BOOTX64.EFI} from the disk's EFI system partition, as Kiln's disks
   * are made.
   */
  EFI,
  /**
   * Legacy BIOS: not supported yet, the disks Kiln builds have no BIOS boot code ({@link
   * OvfPackage#withFirmware} refuses it). vSphere reports it for descriptors that name no firmware.
   */
  BIOS;

  /** The value vSphere uses ({@code efi}, {@code bios}). */
  public String vmwareName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
