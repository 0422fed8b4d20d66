package dev.kiln.spi;

import dev.kiln.Digest;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Content digests of files on the build machine, answered from a stat index (path, size, mtime,
 * inode, ctime → sha256) when the file is unchanged, as git's index does, so unchanged inputs are
 * not read again. Thread-safe.
 */
public interface FileDigests {

  /**
   * The SHA-256 of a regular file's content (following no symlink: the path must be a regular
   * file).
   */
  Digest digest(Path file) throws IOException;

  /**
   * The same, for a file the caller has just stat-ed (by {@link FileStat#lstat}): the index
   * compares that stat instead of taking its own. {@code file} should be absolute and normalised.
   */
  default Digest digest(Path file, FileStat stat) throws IOException {
    return digest(file);
  }

  /**
   * Forgets what is known of {@code file}: its content turned out not to be the digest given for it
   * (see {@link InputChangedException}), so the next request reads it again.
   */
  default void forget(Path file) {}
}
