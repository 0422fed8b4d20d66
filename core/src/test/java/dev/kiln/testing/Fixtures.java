package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Kiln;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Root file systems the integration tests share, built once and cached by the project's scripts.
 */
public final class Fixtures {
  private Fixtures() {}

  /**
   * The gzip level of the stores of tests that bake a Debian base (the root file systems here and
   * the Ansible and package tests' minbase) and check disks, AMIs, layers' contents and what the
   * targets hold, never blob bytes: level 1 imports the 385 MB base in about half the time of the
   * default level (7 s against 13-14 s on two cores; the 216 MB minbase 4.9 s against 8.3 s).
   */
  public static final int DEBIAN_TEST_GZIP_LEVEL = 1;

  /** A {@link Kiln} builder on {@code store} at {@link #DEBIAN_TEST_GZIP_LEVEL}. */
  public static Kiln.Builder debianStore(Path store) {
    return Kiln.builder().store(store).compressionLevel(DEBIAN_TEST_GZIP_LEVEL);
  }

  /**
   * Debian 12 minbase + python3 + linux-image-cloud-amd64 + systemd-sysv, as a tarball (mmdebstrap,
   * cached in ~/.cache/kiln-fixtures by scripts/disk/debian-rootfs.sh; a few minutes the first
   * time).
   */
  public static Path debianWithKernel() throws IOException, InterruptedException {
    Tools.require("mmdebstrap", "mmdebstrap");
    Path out = script("scripts/disk/debian-rootfs.sh");
    assertThat(out).as("debian-rootfs.sh failed").isNotNull();
    return out;
  }

  /**
   * The arm64 busybox-static binary from the Debian mirror (scripts/arm64/busybox.sh, cached in
   * ~/.cache/kiln-fixtures/arm64); null where it cannot be fetched and not under CI.
   */
  public static Path arm64Busybox() throws IOException, InterruptedException {
    Path out = script("scripts/arm64/busybox.sh");
    if (out == null) {
      Tools.missing(
          "the arm64 busybox (scripts/arm64/busybox.sh failed; run scripts/setup-test-env.sh)");
      return null;
    }
    return out;
  }

  /**
   * Debian 12 minbase + linux-image-cloud-arm64 + systemd-sysv for arm64, without initramfs,
   * documentation and translations (mmdebstrap under QEMU user-mode emulation, cached in
   * ~/.cache/kiln-fixtures by {@code scripts/disk/debian-rootfs.sh arm64}; a few minutes the first
   * time). Null where it cannot be built and not under CI.
   */
  public static Path debianArm64WithKernel() throws IOException, InterruptedException {
    Tools.require("mmdebstrap", "mmdebstrap");
    Path out = script("scripts/disk/debian-rootfs.sh", "arm64");
    if (out == null) {
      Tools.missing(
          "the arm64 Debian root file system (scripts/disk/debian-rootfs.sh arm64 failed; it needs"
              + " arm64 emulation: run scripts/setup-test-env.sh)");
      return null;
    }
    return out;
  }

  /**
   * GRUB's arm64-efi modules (grub-efi-arm64-bin of the arm64 architecture, unpacked and cached by
   * scripts/arm64/grub-efi.sh), made the ones this JVM's disk builders use (the system property
   * {@code kiln.grub.arm64-efi}) unless that is set already. Null where they cannot be fetched and
   * not under CI.
   */
  public static synchronized Path arm64GrubModules() throws IOException, InterruptedException {
    String set = System.getProperty("kiln.grub.arm64-efi");
    if (set != null) {
      return Path.of(set);
    }
    Path out = script("scripts/arm64/grub-efi.sh");
    if (out == null) {
      Tools.missing(
          "GRUB's arm64-efi modules (scripts/arm64/grub-efi.sh failed; run scripts/setup-test-env.sh)");
      return null;
    }
    System.setProperty("kiln.grub.arm64-efi", out.toString());
    return out;
  }

  /**
   * Runs a fixture script of the repository (its errors go to this process's stderr) and returns
   * the path its last line of output names, or null when it fails.
   */
  private static Path script(String script, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("bash", repoRoot().resolve(script).toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (p.waitFor() != 0) {
      return null;
    }
    return Path.of(out.lines().reduce((a, b) -> b).orElseThrow());
  }

  /** The repository root: the first parent of the working directory that holds scripts/. */
  public static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !p.resolve("scripts").toFile().isDirectory()) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException(
          "not inside the Kiln repository: " + Path.of("").toAbsolutePath());
    }
    return p;
  }
}
