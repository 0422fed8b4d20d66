package dev.kiln.internal.provision;

import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A declared source of a files layer as its {@link FilesWalk} found it: its {@code lstat} and, for
 * a symlink, where it led.
 */
record DeclaredSource(Path declared, FileStat stat, Path real, FileStat realStat) {
  /**
   * Whether the source still has the same {@code lstat} and, for a symlink, leads to the same file.
   */
  boolean unchanged() {
    try {
      if (!FileStat.lstat(declared).equals(stat)) {
        return false;
      }
      return real == null
          || (declared.toRealPath().equals(real) && FileStat.lstat(real).equals(realStat));
    } catch (IOException e) {
      return false;
    }
  }
}
