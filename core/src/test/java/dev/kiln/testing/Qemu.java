package dev.kiln.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Boots a disk with qemu (software emulation) and OVMF (or, for arm64, the {@code virt} machine and
 * its EDK2 firmware) from an NVMe device, reading the serial console until a marker appears or the
 * time runs out (five minutes for x86-64). Always {@code -snapshot}: the disk is never changed.
 */
public final class Qemu {
  private Qemu() {}

  /**
   * Boots {@code disk} ({@code raw} or {@code vmdk}) and returns the console output up to the
   * marker.
   */
  public static String boot(Path disk, String format, String marker)
      throws IOException, InterruptedException {
    Tools.require("qemu-system-x86_64", "qemu-system-x86");
    if (!Files.exists(Path.of("/usr/share/ovmf/OVMF.fd"))) {
      Tools.require("OVMF.fd (in /usr/share/ovmf)", "ovmf");
    }
    return run(
        disk,
        marker,
        List.of(
            "timeout",
            "300",
            "qemu-system-x86_64",
            "-nographic",
            "-no-reboot",
            "-snapshot",
            "-m",
            "1024",
            "-bios",
            "/usr/share/ovmf/OVMF.fd",
            "-drive",
            "file=" + disk + ",format=" + format + ",if=none,id=d0",
            "-device",
            "nvme,drive=d0,serial=k0"));
  }

  /** The UEFI firmware of QEMU's arm64 {@code virt} machine (Debian's qemu-efi-aarch64). */
  static final Path AARCH64_FIRMWARE = Path.of("/usr/share/qemu-efi-aarch64/QEMU_EFI.fd");

  /**
   * Boots an arm64 {@code disk} on QEMU's {@code virt} machine ({@code -cpu max}, software
   * emulation, its EDK2 firmware) from an NVMe device, reading the PL011 serial console until the
   * marker appears or {@code timeoutSeconds} pass; returns the console output up to the marker.
   */
  public static String bootArm64(Path disk, String format, String marker, int timeoutSeconds)
      throws IOException, InterruptedException {
    Tools.require("qemu-system-aarch64", "qemu-system-arm");
    if (!Files.exists(AARCH64_FIRMWARE)) {
      Tools.require("QEMU_EFI.fd (in /usr/share/qemu-efi-aarch64)", "qemu-efi-aarch64");
    }
    return run(
        disk,
        marker,
        List.of(
            "timeout",
            Integer.toString(timeoutSeconds),
            "qemu-system-aarch64",
            "-M",
            "virt",
            // the implementation-defined pointer authentication is much cheaper to emulate
            "-cpu",
            "max,pauth-impdef=on",
            "-nographic",
            "-no-reboot",
            "-snapshot",
            "-m",
            "1024",
            "-bios",
            AARCH64_FIRMWARE.toString(),
            "-drive",
            "file=" + disk + ",format=" + format + ",if=none,id=d0",
            "-device",
            "nvme,drive=d0,serial=k0"));
  }

  private static String run(Path disk, String marker, List<String> cmd)
      throws IOException, InterruptedException {
    Path logFile = Path.of("target", "boot-console-" + disk.getFileName() + ".log");
    Files.createDirectories(logFile.getParent());
    Process qemu = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    qemu.getOutputStream().close();
    StringBuilder console = new StringBuilder();
    try (BufferedReader r =
            new BufferedReader(
                new InputStreamReader(qemu.getInputStream(), StandardCharsets.UTF_8));
        var w = Files.newBufferedWriter(logFile)) {
      String line;
      while ((line = r.readLine()) != null) {
        console.append(line).append('\n');
        w.write(line);
        w.newLine();
        if (line.contains(marker)) {
          break;
        }
      }
    } finally {
      qemu.descendants().forEach(ProcessHandle::destroy);
      qemu.destroy();
      if (!qemu.waitFor(10, TimeUnit.SECONDS)) {
        qemu.destroyForcibly();
      }
    }
    return console.toString();
  }
}
