package dev.kiln.disk;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

/**
 * Where a build does its work: the work directory next to the output (the disk's temporary file,
 * moved into place at the end) and the scratch directory for the staging directory and the disk
 * being made, on {@code /dev/shm} when it has room. It also removes them afterwards, and what
 * killed processes left on {@code /dev/shm}.
 */
final class ScratchSpace {
  /** The tmpfs that scratch work goes to by default, when it has room. */
  private static final Path SHM = Path.of("/dev/shm");

  private static final String SCRATCH_PREFIX = "kiln-disk-";
  private static final long ABANDONED_AFTER_MILLIS = 6 * 3600 * 1000L;

  private ScratchSpace() {}

  /** A new work directory next to {@code out}. */
  static Path workDir(Path out) throws IOException {
    Path dir = out.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    return Files.createTempDirectory(dir, ".kiln-disk-");
  }

  /**
   * A new scratch directory for the staging directory and the disk being made: under {@code
   * workDirectory} if set ({@link DiskBuilder#workDirectory}), else on {@code /dev/shm} if {@code
   * bytes} fit there with a margin (and in available memory), else the work directory next to the
   * output.
   */
  static Path scratchDir(Path workDirectory, Path work, long bytes) throws IOException {
    Path parent = workDirectory;
    if (parent == null && Files.isDirectory(SHM) && Files.isWritable(SHM)) {
      removeAbandonedScratch(SHM);
      long need = bytes + 256 * DiskOptions.MIB;
      long avail = memAvailable();
      if (Files.getFileStore(SHM).getUsableSpace() > need && (avail < 0 || avail > need)) {
        parent = SHM;
      }
    }
    if (parent == null) {
      return work;
    }
    Files.createDirectories(parent);
    return Files.createTempDirectory(parent, SCRATCH_PREFIX + ProcessHandle.current().pid() + "-");
  }

  /**
   * Scratch directories of processes that are gone (killed mid-build) would hold memory until a
   * reboot.
   */
  private static void removeAbandonedScratch(Path dir) {
    try (var s = Files.newDirectoryStream(dir, SCRATCH_PREFIX + "*")) {
      for (Path p : s) {
        String rest = p.getFileName().toString().substring(SCRATCH_PREFIX.length());
        int dash = rest.indexOf('-');
        try {
          long pid = Long.parseLong(dash < 0 ? rest : rest.substring(0, dash));
          long age = System.currentTimeMillis() - Files.getLastModifiedTime(p).toMillis();
          // the age guards against a /dev/shm shared with another PID namespace
          if (ProcessHandle.of(pid).isEmpty() && age > ABANDONED_AFTER_MILLIS) {
            remove(p);
          }
        } catch (NumberFormatException | IOException e) {
          // not ours, or not ours to delete
        }
      }
    } catch (IOException e) {
      // best effort
    }
  }

  /**
   * Bytes the layers unpack to, roughly: plain tars as they are, compressed ones five times their
   * size.
   */
  static long estimatedContent(List<Path> layers) throws IOException {
    long n = 0;
    for (Path l : layers) {
      long size = Files.size(l);
      byte[] magic = new byte[2];
      try (InputStream in = Files.newInputStream(l)) {
        int r = in.readNBytes(magic, 0, 2);
        n += r == 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b ? 5 * size : size;
      }
    }
    return n;
  }

  /** MemAvailable from /proc/meminfo, or -1. */
  private static long memAvailable() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemAvailable:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // unknown
    }
    return -1;
  }

  /** Removes the scratch directory (unless it is the work directory) and the work directory. */
  static void delete(Path scratch, Path work) throws IOException {
    if (scratch != null && !scratch.startsWith(work)) {
      remove(scratch);
    }
    remove(work.resolve("root"));
    deleteTree(work);
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      List<Path> all = walk.sorted(Comparator.reverseOrder()).toList();
      for (Path x : all) {
        Files.deleteIfExists(x);
      }
    }
  }

  /**
   * {@code rm -rf --one-file-system DIR}, if it exists (several times faster than a Java tree walk
   * over a staging directory).
   */
  static void remove(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try {
      Process p =
          new ProcessBuilder("rm", "-rf", "--one-file-system", "--", root.toString())
              .redirectErrorStream(true)
              .start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        throw new IOException(
            "could not delete the staging directory " + root + ": " + out.strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while deleting " + root, e);
    }
  }
}
