package dev.kiln.internal.store;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * How the store puts a file in place: written whole in the session's temp area, then renamed over
 * the target (replacing it) or linked beside it (keeping a target that exists), so no reader ever
 * sees a half-written file. Also removes trees, and marks a file as used (its mtime). Thread-safe.
 */
final class StoreFiles {
  private final StoreSession session;

  StoreFiles(StoreSession session) {
    this.session = session;
  }

  /**
   * Writes {@code content} to {@code target} through a temp file and an atomic rename (replacing).
   */
  void writeAtomically(Path target, byte[] content) throws IOException {
    Path tmp = session.newTempFile(".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      out.write(content);
    }
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Writes {@code content} to {@code target} through a temp file unless {@code target} exists. */
  void writeAtomicallyKeepExisting(Path target, byte[] content) throws IOException {
    Path tmp = session.newTempFile(".tmp");
    Files.write(tmp, content);
    moveIntoPlace(tmp, target);
  }

  /**
   * Renames {@code tmp} to {@code target} unless {@code target} exists, in which case {@code tmp}
   * is removed.
   */
  static void moveIntoPlace(Path tmp, Path target) throws IOException {
    if (Files.exists(target)) {
      Files.deleteIfExists(tmp);
      return;
    }
    try {
      // a hard link fails if the target exists: no window in which a half-written file is visible
      // or replaced
      Files.createLink(target, tmp);
      Files.delete(tmp);
    } catch (FileAlreadyExistsException e) {
      Files.deleteIfExists(tmp);
    } catch (UnsupportedOperationException | IOException e) {
      if (Files.exists(target)) {
        Files.deleteIfExists(tmp);
        return;
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e2) {
        Files.move(tmp, target);
      }
    }
  }

  /** Removes {@code dir} and everything below it; nothing when it does not exist. */
  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.deleteIfExists(p);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /**
   * Marks a store file (a key entry, an image record, a disk's info) as just used: its mtime is
   * what garbage collection orders by. Nothing when it is not there.
   */
  static void touch(Path p) {
    try {
      Files.setLastModifiedTime(p, FileTime.fromMillis(System.currentTimeMillis()));
    } catch (IOException e) {
      // not there (yet): nothing to mark
    }
  }
}
