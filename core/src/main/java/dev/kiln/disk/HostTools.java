package dev.kiln.disk;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
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
  private final Map<BootArchitecture, Path> grubDirs;
  private final Map<String, Path> found = new LinkedHashMap<>();

  private HostTools(List<Path> searchPath, Map<BootArchitecture, Path> grubDirs) {
    this.searchPath = List.copyOf(searchPath);
    this.grubDirs = Map.copyOf(grubDirs);
  }

  /**
   * Tools on this host: PATH plus /usr/sbin and /sbin. The GRUB modules of an architecture are in
   * the directory the system property {@code kiln.grub.TARGET} or the environment variable {@code
   * KILN_GRUB_TARGET} names ({@code kiln.grub.arm64-efi}, {@code KILN_GRUB_ARM64_EFI}), else in
   * {@code /usr/lib/grub/TARGET}, where Debian's package installs them.
   */
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
    Map<BootArchitecture, Path> grub = new EnumMap<>(BootArchitecture.class);
    for (BootArchitecture a : BootArchitecture.values()) {
      String dir = System.getProperty(a.propertyName());
      if (dir == null || dir.isBlank()) {
        dir = System.getenv(a.envName());
      }
      if (dir == null || dir.isBlank()) {
        dir = "/usr/lib/grub/" + a.grubTarget();
      }
      grub.put(a, Path.of(dir));
    }
    return new HostTools(new ArrayList<>(dirs), grub);
  }

  /**
   * Tools looked up only in the given directories, the x86_64-efi modules in {@code grubEfiDir}
   * (tests use this to simulate a bare host).
   */
  static HostTools in(List<Path> searchPath, Path grubEfiDir) {
    return in(searchPath, Map.of(BootArchitecture.X86_64, grubEfiDir));
  }

  /** Tools looked up only in the given directories, GRUB's modules in the given ones. */
  static HostTools in(List<Path> searchPath, Map<BootArchitecture, Path> grubDirs) {
    Map<BootArchitecture, Path> all = new EnumMap<>(BootArchitecture.class);
    for (BootArchitecture a : BootArchitecture.values()) {
      all.put(a, grubDirs.getOrDefault(a, Path.of("/nonexistent/grub/" + a.grubTarget())));
    }
    return new HostTools(searchPath, all);
  }

  /**
   * Checks that every named tool (and, if {@code grub} is not null, the GRUB EFI modules of that
   * architecture) is present; the error lists everything missing at once with the packages that
   * provide it.
   */
  HostTools require(BootArchitecture grub, String... tools) throws DiskException {
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
    String foreignGrub = null;
    if (grub != null && !Files.isRegularFile(grubEfiDir(grub).resolve("linux.mod"))) {
      missing.add("the GRUB " + grub.grubTarget() + " modules (" + grubEfiDir(grub) + ")");
      if (grub.platform().equals(dev.kiln.Platform.host())) {
        packages.add(grub.grubPackage());
      } else {
        foreignGrub = grub.grubPackage() + ":" + grub.label();
      }
    }
    if (!missing.isEmpty()) {
      String how =
          packages.isEmpty()
              ? ""
              : ": install the Debian package"
                  + (packages.size() > 1 ? "s " : " ")
                  + String.join(" ", packages)
                  + " (apt-get install -y "
                  + String.join(" ", packages)
                  + ")";
      if (foreignGrub != null) {
        how +=
            (how.isEmpty() ? ": " : "; ")
                + "the "
                + grub.grubTarget()
                + " modules come from "
                + foreignGrub
                + ", which is not installable on this host: unpack it (dpkg --add-architecture "
                + grub.label()
                + " && apt-get update && apt-get download "
                + foreignGrub
                + " && dpkg -x "
                + grub.grubPackage()
                + "_*_"
                + grub.label()
                + ".deb"
                + " DIR) and point "
                + grub.envName()
                + " (or the system property "
                + grub.propertyName()
                + ") at DIR/usr/lib/grub/"
                + grub.grubTarget()
                + " (on "
                + grub.label()
                + " hosts: apt-get install -y "
                + grub.grubPackage()
                + ")";
      }
      throw new DiskException(
          "host tool"
              + (missing.size() > 1 ? "s " : " ")
              + String.join(", ", missing)
              + " not found (looked in "
              + searchPath
              + ")"
              + how);
    }
    return this;
  }

  /** Where the GRUB modules of {@code arch} are looked for. */
  Path grubEfiDir(BootArchitecture arch) {
    return grubDirs.get(arch);
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
