package dev.kiln.disk;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Finds the host programs the disk builder runs and runs them. Every tool is looked up before any
 * work starts, and a missing one is an error that names the Debian package to install. {@code
 * /usr/sbin} and {@code /sbin} are searched too, because an ordinary user's PATH on Debian does not
 * have them and e2fsprogs lives there. Immutable.
 */
final class HostTools {
  /** Tool name -> Debian package. */
  static final Map<String, String> PACKAGES =
      Map.of(
          "mke2fs", "e2fsprogs",
          "debugfs", "e2fsprogs",
          "grub-mkimage", "grub-common",
          "cp", "coreutils");

  /** The GRUB module directory that grub-efi-amd64-bin installs. */
  static final String GRUB_EFI_DIR = "/usr/lib/grub/x86_64-efi";

  private final List<Path> searchPath;
  private final Path grubEfiDir;
  private final Map<String, Path> found = new LinkedHashMap<>();

  private HostTools(List<Path> searchPath, Path grubEfiDir) {
    this.searchPath = List.copyOf(searchPath);
    this.grubEfiDir = grubEfiDir;
  }

  /** Tools on this host: PATH plus /usr/sbin and /sbin. */
  static HostTools system() {
    Set<Path> dirs = new LinkedHashSet<>();
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(File.pathSeparator)) {
        if (!d.isEmpty()) {
          dirs.add(Path.of(d));
        }
      }
    }
    dirs.add(Path.of("/usr/sbin"));
    dirs.add(Path.of("/sbin"));
    dirs.add(Path.of("/usr/bin"));
    return new HostTools(new ArrayList<>(dirs), Path.of(GRUB_EFI_DIR));
  }

  /** Tools looked up only in the given directories (tests use this to simulate a bare host). */
  static HostTools in(List<Path> searchPath, Path grubEfiDir) {
    return new HostTools(searchPath, grubEfiDir);
  }

  /**
   * Checks that every named tool (and, if asked, the GRUB EFI modules) is present; the error lists
   * everything missing at once with the packages that provide it.
   */
  HostTools require(boolean grub, String... tools) throws DiskException {
    List<String> missing = new ArrayList<>();
    Set<String> packages = new LinkedHashSet<>();
    for (String t : tools) {
      Path p = lookup(t);
      if (p == null) {
        missing.add("'" + t + "'");
        packages.add(PACKAGES.getOrDefault(t, t));
      } else {
        found.put(t, p);
      }
    }
    if (grub && !Files.isRegularFile(grubEfiDir.resolve("linux.mod"))) {
      missing.add("the GRUB x86_64-efi modules (" + grubEfiDir + ")");
      packages.add("grub-efi-amd64-bin");
    }
    if (!missing.isEmpty()) {
      throw new DiskException(
          "host tool"
              + (missing.size() > 1 ? "s " : " ")
              + String.join(", ", missing)
              + " not found (looked in "
              + searchPath
              + "): install the Debian package"
              + (packages.size() > 1 ? "s " : " ")
              + String.join(" ", packages)
              + " (apt-get install -y "
              + String.join(" ", packages)
              + ")");
    }
    return this;
  }

  Path grubEfiDir() {
    return grubEfiDir;
  }

  private Path lookup(String tool) {
    for (Path d : searchPath) {
      Path p = d.resolve(tool);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** The absolute path of a tool checked by {@link #require}. */
  String path(String tool) {
    Path p = found.get(tool);
    if (p == null) {
      p = lookup(tool);
    }
    if (p == null) {
      throw new IllegalStateException("tool not required before use: " + tool);
    }
    return p.toString();
  }

  /** The result of a finished command. */
  record Result(int exitCode, String stdout, String stderr) {}

  /**
   * Runs a command to completion with the given extra environment and stdin file (or none),
   * collecting its output. A non-zero exit is an error naming the command and the last lines of its
   * error output.
   */
  static Result run(List<String> cmd, Map<String, String> env, Path stdin, boolean check)
      throws DiskException {
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    pb.environment().put("LC_ALL", "C");
    if (stdin != null) {
      pb.redirectInput(stdin.toFile());
    }
    Process p = null;
    try {
      p = pb.start();
      if (stdin == null) {
        p.getOutputStream().close();
      }
      Process proc = p;
      CompletableFuture<String> out =
          CompletableFuture.supplyAsync(() -> slurp(proc.getInputStream()));
      CompletableFuture<String> err =
          CompletableFuture.supplyAsync(() -> slurp(proc.getErrorStream()));
      int rc = p.waitFor();
      Result r = new Result(rc, out.join(), err.join());
      if (check && rc != 0) {
        throw new DiskException(
            "command failed with exit code "
                + rc
                + ": "
                + String.join(" ", cmd)
                + "\n"
                + tail(r.stderr + r.stdout));
      }
      return r;
    } catch (IOException e) {
      throw new DiskException("could not run " + cmd.get(0) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new DiskException("interrupted while running " + cmd.get(0), e);
    }
  }

  static String tail(String s) {
    String[] lines = s.strip().split("\n");
    int from = Math.max(0, lines.length - 15);
    return String.join("\n", java.util.Arrays.asList(lines).subList(from, lines.length));
  }

  private static String slurp(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
