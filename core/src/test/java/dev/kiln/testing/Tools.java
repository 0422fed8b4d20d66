package dev.kiln.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Finds the real tools tests validate against (skopeo, umoci, docker, qemu-img, …) and runs them.
 * When a tool or the Docker daemon is missing, a test is skipped on a developer machine but FAILS
 * under {@code CI=true}: CI installs everything with scripts/setup-test-env.sh, so a missing tool
 * there is a broken setup, never a pass.
 */
public final class Tools {
  private Tools() {}

  /** True when running in CI, where a missing tool is a failure. */
  public static boolean ci() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  /** The absolute path of a tool on PATH (preferring /usr/bin and /usr/sbin), or a skip/failure. */
  public static String require(String tool, String debianPackage) {
    for (String dir : dirs()) {
      Path p = Path.of(dir, tool);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    missing(
        "'"
            + tool
            + "' is not installed (Debian package "
            + debianPackage
            + "; scripts/setup-test-env.sh installs it)");
    return null;
  }

  /**
   * Skips the test on a developer machine, or fails it under {@code CI=true}, saying what is
   * missing.
   */
  public static void missing(String why) {
    if (ci()) {
      fail("CI=true and something the test needs is missing: " + why);
    }
    assumeTrue(false, why);
  }

  private static List<String> dirs() {
    List<String> d = new ArrayList<>(List.of("/usr/bin", "/usr/sbin", "/bin", "/sbin"));
    d.addAll(Arrays.asList(System.getenv().getOrDefault("PATH", "").split(":")));
    return d;
  }

  /** The docker CLI of the engine package, with a running daemon; a skip/failure otherwise. */
  public static String requireDocker() {
    String docker = require("docker", "docker.io");
    Result r = runQuietly(List.of(docker, "version", "--format", "{{.Server.Version}}"));
    if (r.exit() != 0) {
      missing(
          "the Docker daemon is not running ("
              + r.output().strip()
              + "); scripts/setup-test-env.sh starts it");
    }
    return docker;
  }

  /**
   * Removes images a test published, and the parent images run layers left under {@code
   * kiln-parent/}; quiet when there is nothing to remove or no daemon.
   */
  public static void removeImagesAndParents(String... images) {
    for (String image : images) {
      run("/usr/bin/docker", "rmi", "-f", image);
    }
    String parents =
        run("/usr/bin/docker", "images", "-q", "--filter", "reference=kiln-parent/*").output();
    for (String id : parents.split("\\s+")) {
      if (!id.isBlank()) {
        run("/usr/bin/docker", "rmi", "-f", id);
      }
    }
  }

  /** A finished command: exit code and combined output. */
  public record Result(int exit, String output) {
    public Result ok() {
      if (exit != 0) {
        throw new AssertionError("command failed with exit code " + exit + ":\n" + output);
      }
      return this;
    }
  }

  /** Runs a command (bounded to 10 minutes) and returns its exit code and output. */
  public static Result run(String... cmd) {
    return runQuietly(List.of(cmd));
  }

  public static Result run(List<String> cmd) {
    return runQuietly(cmd);
  }

  private static Result runQuietly(List<String> cmd) {
    try {
      Path out = Files.createTempFile("kiln-tool", ".out");
      try {
        Process p =
            new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
          p.destroyForcibly();
          return new Result(-1, "timed out: " + cmd);
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
      } finally {
        Files.deleteIfExists(out);
      }
    } catch (IOException e) {
      return new Result(-1, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }
}
