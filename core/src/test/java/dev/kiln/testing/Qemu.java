package dev.kiln.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Boots a disk with qemu (software emulation) and OVMF from an NVMe device, reading the serial
 * console until a marker appears or five minutes pass. Always {@code -snapshot}: the disk is never
 * changed.
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
    Path logFile = Path.of("target", "boot-console-" + disk.getFileName() + ".log");
    Files.createDirectories(logFile.getParent());
    Process qemu =
        new ProcessBuilder(
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
                "nvme,drive=d0,serial=k0")
            .redirectErrorStream(true)
            .start();
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
