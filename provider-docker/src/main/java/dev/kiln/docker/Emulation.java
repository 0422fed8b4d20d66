package dev.kiln.docker;

import dev.kiln.Platform;
import dev.kiln.ProvisioningException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Whether the Docker host can run containers of a foreign platform: through QEMU user-mode
 * emulation registered with binfmt_misc, with the fix-binary flag ({@code F}), so the interpreter
 * is opened once on the host and works inside every container. Checked once per platform for a
 * daemon on this machine (a unix socket); a remote daemon is trusted, and an "exec format error"
 * from its container is explained the same way. Thread-safe.
 */
final class Emulation {
  private static final Path BINFMT = Path.of("/proc/sys/fs/binfmt_misc");
  private static final Map<String, String> QEMU =
      Map.of(
          "arm64", "aarch64",
          "amd64", "x86_64",
          "arm", "arm",
          "ppc64le", "ppc64le",
          "s390x", "s390x",
          "riscv64", "riscv64",
          "386", "i386");
  private static final Map<Platform, Boolean> CHECKED = new ConcurrentHashMap<>();

  private Emulation() {}

  /**
   * Fails with the steps to install emulation when {@code platform} is foreign to {@code native_}
   * and this machine (running the daemon) has no usable binfmt handler for it.
   */
  static void check(String layer, Platform platform, Platform daemonPlatform, boolean localDaemon)
      throws ProvisioningException {
    if (!localDaemon || CHECKED.containsKey(platform)) {
      return;
    }
    check(layer, platform, daemonPlatform, BINFMT);
    CHECKED.put(platform, true);
  }

  /** {@link #check} against the binfmt_misc directory {@code binfmt}. */
  static void check(String layer, Platform platform, Platform daemonPlatform, Path binfmt)
      throws ProvisioningException {
    if (platform.architecture().equals(daemonPlatform.architecture())) {
      return;
    }
    String why = problem(platform, binfmt);
    if (why != null) {
      throw new ProvisioningException(
          layer,
          "the layer runs commands for "
              + platform
              + " but the Docker host runs "
              + daemonPlatform
              + " and cannot emulate it: "
              + why
              + ". "
              + howToInstall(platform));
    }
  }

  /** Why {@code binfmt} has no usable handler for {@code platform}, or null when it has one. */
  static String problem(Platform platform, Path binfmt) {
    String qemu = QEMU.getOrDefault(platform.architecture(), platform.architecture());
    Path handler = binfmt.resolve("qemu-" + qemu);
    if (!Files.isDirectory(binfmt) || !Files.exists(binfmt.resolve("status"))) {
      return "binfmt_misc is not mounted at " + binfmt;
    }
    List<String> lines;
    try {
      lines = Files.readAllLines(handler);
    } catch (IOException e) {
      return "no binfmt_misc handler qemu-" + qemu + " is registered";
    }
    if (!lines.contains("enabled")) {
      return "the binfmt_misc handler qemu-" + qemu + " is disabled";
    }
    String flags =
        lines.stream()
            .filter(l -> l.startsWith("flags:"))
            .findFirst()
            .map(l -> l.substring(6).trim())
            .orElse("");
    if (!flags.contains("F")) {
      return "the binfmt_misc handler qemu-"
          + qemu
          + " lacks the fix-binary flag F (flags: '"
          + flags
          + "'), so containers cannot find the emulator";
    }
    return null;
  }

  /** What to run on Debian or Ubuntu to get emulation for {@code platform}. */
  static String howToInstall(Platform platform) {
    String qemu = QEMU.getOrDefault(platform.architecture(), platform.architecture());
    return "On Debian/Ubuntu, as root: apt-get install qemu-user-static binfmt-support; "
        + "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc (if not mounted); "
        + "update-binfmts --enable qemu-"
        + qemu
        + " (see docs/platforms.md)";
  }

  /** Whether a container's output says the kernel could not run a foreign binary. */
  static boolean execFormatError(String output) {
    return output != null && output.contains("exec format error");
  }
}
