package dev.kiln.disk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs batches of {@code debugfs} commands against the ext4 file system inside a disk image (the
 * {@code IMAGE?offset=N} form, so the partition is never copied out), without root and without
 * mounting it. debugfs reports failures on stderr but exits 0, so any stderr line other than its
 * banner is an error here. Not thread-safe.
 */
final class Debugfs {
  private final HostTools tools;
  private final Path disk;
  private final long offset;
  private final Path workDir;
  private final Map<String, String> env;

  Debugfs(HostTools tools, Path disk, long offset, Path workDir, Map<String, String> env) {
    this.tools = tools;
    this.disk = disk;
    this.offset = offset;
    this.workDir = workDir;
    this.env = Map.copyOf(env);
  }

  /**
   * Quotes a path or value for debugfs's command parser; names with quotes or line breaks are
   * refused.
   */
  static String q(String s) throws DiskException {
    if (s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
      throw new DiskException(
          "cannot add '"
              + s
              + "' to an existing disk: names with quotes or line breaks are not supported by the"
              + " in-place (debugfs) path; build the disk in full instead");
    }
    return "\"" + s + "\"";
  }

  /** Runs the commands, writable or not; returns the output of each command, in order. */
  List<String> run(List<String> commands, boolean write) throws DiskException {
    if (commands.isEmpty()) {
      return List.of();
    }
    try {
      Path cmds = Files.createTempFile(workDir, "debugfs", ".cmds");
      try {
        Files.write(cmds, commands, StandardCharsets.UTF_8);
        List<String> cmd = new ArrayList<>();
        cmd.add(tools.path("debugfs"));
        if (write) {
          cmd.add("-w");
        }
        cmd.add("-f");
        cmd.add(cmds.toString());
        cmd.add(disk + "?offset=" + offset);
        HostTools.Result r = HostTools.run(cmd, env, null, true);
        List<String> errors = new ArrayList<>();
        for (String line : r.stderr().split("\n")) {
          if (!line.isBlank() && !line.startsWith("debugfs ")) {
            errors.add(line);
          }
        }
        if (!errors.isEmpty()) {
          throw new DiskException(
              "debugfs reported errors on "
                  + disk
                  + ":\n"
                  + HostTools.tail(String.join("\n", errors)));
        }
        return split(r.stdout(), commands.size());
      } finally {
        Files.deleteIfExists(cmds);
      }
    } catch (IOException e) {
      throw new DiskException("could not run debugfs: " + e.getMessage(), e);
    }
  }

  /** debugfs -f echoes each command as "debugfs: CMD" before its output. */
  private static List<String> split(String stdout, int n) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = null;
    for (String line : stdout.split("\n", -1)) {
      if (line.startsWith("debugfs: ")) {
        if (cur != null) {
          out.add(cur.toString());
        }
        cur = new StringBuilder();
      } else if (cur != null) {
        cur.append(line).append('\n');
      }
    }
    if (cur != null) {
      out.add(cur.toString());
    }
    while (out.size() < n) {
      out.add("");
    }
    return out;
  }
}
