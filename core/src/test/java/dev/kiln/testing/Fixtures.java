package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Root file systems the integration tests share, built once and cached by the project's scripts.
 */
public final class Fixtures {
  private Fixtures() {}

  /**
   * Debian 12 minbase + python3 + linux-image-cloud-amd64 + systemd-sysv, as a tarball (mmdebstrap,
   * cached in ~/.cache/kiln-fixtures by scripts/disk/debian-rootfs.sh; a few minutes the first
   * time).
   */
  public static Path debianWithKernel() throws IOException, InterruptedException {
    Tools.require("mmdebstrap", "mmdebstrap");
    Path script = repoRoot().resolve("scripts/disk/debian-rootfs.sh");
    Process p =
        new ProcessBuilder("bash", script.toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertThat(p.waitFor()).as("debian-rootfs.sh exit code").isZero();
    return Path.of(out.lines().reduce((a, b) -> b).orElseThrow());
  }

  /**
   * The arm64 busybox-static binary from the Debian mirror (scripts/arm64/busybox.sh, cached in
   * ~/.cache/kiln-fixtures/arm64); null where it cannot be fetched and not under CI.
   */
  public static Path arm64Busybox() throws IOException, InterruptedException {
    Path script = repoRoot().resolve("scripts/arm64/busybox.sh");
    Process p =
        new ProcessBuilder("bash", script.toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (p.waitFor() != 0) {
      Tools.missing(
          "the arm64 busybox (scripts/arm64/busybox.sh failed; run scripts/setup-test-env.sh)");
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
