package dev.kiln.vmware;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * External tools that integration tests need. A missing tool skips the test on a developer's
 * machine and fails it under {@code CI=true}, where every tool must be installed.
 */
final class Tools {
  private Tools() {}

  static boolean ci() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  /**
   * The tool's path on PATH, or the test is skipped (failed under CI) with {@code install} as the
   * remedy.
   */
  static Path require(String tool, String install) {
    Optional<Path> p = onPath(tool);
    if (p.isEmpty()) {
      missing(tool + " not found on PATH: " + install);
    }
    return p.orElseThrow();
  }

  /** Skips the test, or fails it under CI. */
  static void missing(String why) {
    if (ci()) {
      fail("CI=true and a required tool is missing: " + why);
    }
    Assumptions.abort(why);
  }

  static Optional<Path> onPath(String tool) {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir : path.split(File.pathSeparator)) {
      Path p = Path.of(dir, tool);
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }
}
