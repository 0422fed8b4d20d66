package dev.kiln.disk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs validators (sgdisk, sfdisk, e2fsck, debugfs, fsck.vfat) in tests. */
final class Tools {
  record Out(int code, String out) {}

  static Out run(String... cmd) throws IOException, InterruptedException {
    List<String> c = new ArrayList<>(List.of(cmd));
    if (!c.get(0).startsWith("/")) {
      for (String d : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
        if (java.nio.file.Files.isExecutable(Path.of(d, c.get(0)))) {
          c.set(0, d + "/" + c.get(0));
          break;
        }
      }
    }
    ProcessBuilder pb = new ProcessBuilder(c).redirectErrorStream(true);
    pb.environment().put("LC_ALL", "C");
    Process p = pb.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Out(p.waitFor(), out);
  }

  /** One debugfs command (read-only) against the root file system of a disk. */
  static String debugfs(DiskImage d, String command) throws IOException, InterruptedException {
    return run("debugfs", "-R", command, d.path() + "?offset=" + d.rootOffset()).out();
  }

  static String sha256(Path p) throws IOException {
    return com.google.common.io.Files.asByteSource(p.toFile())
        .hash(com.google.common.hash.Hashing.sha256())
        .toString();
  }
}
