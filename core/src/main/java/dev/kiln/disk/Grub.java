package dev.kiln.disk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The UEFI boot loader: GRUB's core image built with {@code grub-mkimage} (reproducible, unlike
 * {@code grub-mkstandalone}, whose memdisk carries wall-clock times) with the whole configuration
 * embedded, so the ESP holds one file, {@code \EFI\BOOT\BOOTX64.EFI} ({@code BOOTAA64.EFI} on
 * arm64), which firmware finds without NVRAM entries. GRUB reads the kernel and initramfs from the
 * ext4 root (found by file system UUID), so a kernel update changes the root file system and a few
 * bytes of the ESP, not a copy of the kernel.
 */
final class Grub {
  static final List<String> MODULES =
      List.of("part_gpt", "ext2", "search", "search_fs_uuid", "linux", "boot", "echo");

  private Grub() {}

  /** The embedded configuration: plain commands (the rescue parser runs it; no scripting). */
  static String config(
      Kernel k, UUID fsUuid, UUID rootPartUuid, DiskOptions o, BootArchitecture arch) {
    List<String> args = new ArrayList<>();
    args.add("root=PARTUUID=" + rootPartUuid);
    args.add("rw");
    if (o.defaultConsoles()) {
      args.addAll(arch.consoles());
    }
    args.addAll(o.kernelArgs());
    StringBuilder sb = new StringBuilder();
    sb.append("search --no-floppy --fs-uuid --set=root ").append(fsUuid).append('\n');
    sb.append("echo 'Kiln: loading ").append(k.kernel()).append("'\n");
    sb.append("linux ").append(k.kernel()).append(' ').append(String.join(" ", args)).append('\n');
    k.initrd().ifPresent(i -> sb.append("initrd ").append(i).append('\n'));
    sb.append("boot\n");
    return sb.toString();
  }

  /**
   * Whether a core image made by {@link #image} embeds exactly {@code config}: grub-mkimage stores
   * it as a module of type OBJ_TYPE_CONFIG (2) whose payload is the file's bytes and a NUL.
   */
  static boolean embeds(byte[] efi, String config) {
    byte[] want = (config + "\0").getBytes(StandardCharsets.UTF_8);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(efi).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    outer:
    for (int i = 8; i + want.length <= efi.length; i++) {
      if (efi[i] != want[0]) {
        continue;
      }
      for (int k = 1; k < want.length; k++) {
        if (efi[i + k] != want[k]) {
          continue outer;
        }
      }
      int type = b.getInt(i - 8);
      int size = b.getInt(i - 4);
      if (type == 2 && size >= want.length + 8) {
        return true;
      }
    }
    return false;
  }

  /**
   * Builds the core image of {@code arch} (BOOTX64.EFI, BOOTAA64.EFI) with the configuration
   * embedded.
   */
  static byte[] image(HostTools tools, String config, Path workDir, BootArchitecture arch)
      throws DiskException {
    try {
      Path cfg = Files.createTempFile(workDir, "grub", ".cfg");
      Path out = Files.createTempFile(workDir, "bootx64", ".efi");
      try {
        Files.writeString(cfg, config, StandardCharsets.UTF_8);
        List<String> cmd = new ArrayList<>();
        cmd.add(tools.path("grub-mkimage"));
        cmd.addAll(
            List.of(
                "-O", arch.grubTarget(),
                "-d", tools.grubEfiDir(arch).toString(),
                "-p", "/EFI/BOOT",
                "-c", cfg.toString(),
                "-o", out.toString()));
        cmd.addAll(MODULES);
        cmd.addAll(arch.extraModules());
        HostTools.run(cmd, Map.of(), null, true);
        return Files.readAllBytes(out);
      } finally {
        Files.deleteIfExists(cfg);
        Files.deleteIfExists(out);
      }
    } catch (IOException e) {
      throw new DiskException("could not build the GRUB image: " + e.getMessage(), e);
    }
  }
}
