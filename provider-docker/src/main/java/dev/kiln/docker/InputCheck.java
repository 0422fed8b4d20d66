package dev.kiln.docker;

import dev.kiln.Digest;
import dev.kiln.ProvisioningException;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * The files of the build machine a {@code run} or {@code ansible} layer reads, as they were when
 * they were hashed for its key: each with its {@code lstat} and digest. The container (or Ansible)
 * reads them itself, so Kiln cannot hash what it copies as the layer writer does; instead, before
 * the run every file must still have its stat and, read again, its digest (which also catches an
 * edit no stat shows), and after the run its stat must be the same (a write changes the ctime even
 * when size and mtime are put back). Otherwise the layer fails, naming the file, and nothing is
 * stored under a key computed from other bytes. Thread-safe.
 */
final class InputCheck {
  /** A hashed file, or (null digest) a directory whose listing is part of the key. */
  private record Hashed(Path path, FileStat stat, Digest digest) {}

  private final List<Hashed> hashed = new ArrayList<>();

  /** {@code files}, recording each file it answers for with the stat the answer is for. */
  FileDigests recording(FileDigests files) {
    return new FileDigests() {
      @Override
      public Digest digest(Path file) throws IOException {
        Path abs = file.toAbsolutePath().normalize();
        return digest(abs, FileStat.lstat(abs));
      }

      @Override
      public Digest digest(Path file, FileStat stat) throws IOException {
        Digest d = files.digest(file, stat);
        add(new Hashed(file.toAbsolutePath().normalize(), stat, d));
        return d;
      }

      @Override
      public void forget(Path file) {
        files.forget(file);
      }
    };
  }

  /**
   * Records a directory whose listing went into the key: an entry added or removed changes its
   * stat.
   */
  void directory(Path dir) throws IOException {
    Path abs = dir.toAbsolutePath().normalize();
    add(new Hashed(abs, FileStat.lstat(abs), null));
  }

  private synchronized void add(Hashed h) {
    hashed.add(h);
  }

  private synchronized List<Hashed> all() {
    return List.copyOf(hashed);
  }

  /** Before the run: every input has its stat, and every file read again has its digest. */
  void beforeRun(String layer, FileDigests files) throws ProvisioningException {
    for (Hashed h : all()) {
      checkStat(layer, h, files);
      if (h.digest() != null) {
        Digest now;
        try {
          now = sha256(h.path());
        } catch (IOException e) {
          throw changed(layer, h, files, "it cannot be read any more: " + e.getMessage());
        }
        if (!now.equals(h.digest())) {
          throw changed(layer, h, files, "hashed as " + h.digest() + ", read as " + now);
        }
      }
    }
  }

  /** After the run: no input has been written to, replaced or removed while it ran. */
  void afterRun(String layer, FileDigests files) throws ProvisioningException {
    for (Hashed h : all()) {
      checkStat(layer, h, files);
    }
  }

  private static void checkStat(String layer, Hashed h, FileDigests files)
      throws ProvisioningException {
    FileStat now;
    try {
      now = FileStat.lstat(h.path());
    } catch (IOException e) {
      throw changed(layer, h, files, "it is gone");
    }
    if (!now.equals(h.stat())) {
      throw changed(layer, h, files, "its size, times or inode are not those it was hashed with");
    }
  }

  private static ProvisioningException changed(
      String layer, Hashed h, FileDigests files, String why) {
    if (h.digest() != null) {
      files.forget(h.path());
    }
    return new ProvisioningException(
        layer,
        "input "
            + (h.digest() != null ? "file" : "directory")
            + " '"
            + h.path()
            + "' changed after it was hashed for the layer's cache key ("
            + why
            + "); the layer was not stored: bake again"
            + " once it stays put");
  }

  private static Digest sha256(Path file) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
    byte[] buf = new byte[256 * 1024];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    }
    return Digest.fromBytes(md.digest());
  }
}
