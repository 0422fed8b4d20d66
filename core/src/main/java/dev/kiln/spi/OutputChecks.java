package dev.kiln.spi;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Remembers, by the file's stat, that a file a target wrote was checked to hold an image, so that
 * an unchanged target is not read again on every bake: a publish context offers it as a {@link
 * PublishContext#capability capability}. Sound for the same reason as the store's memo of verified
 * blobs: any write to a file, through any name, sets its ctime to the clock, and nothing sets a
 * ctime back; a check that starts within one timestamp tick of the file's last change is not
 * remembered.
 */
public interface OutputChecks {

  /** A check of a file's content that may read it. */
  @FunctionalInterface
  interface Check {
    boolean holds() throws IOException;
  }

  /**
   * True when {@code file} still has the stat it had when it last passed a check of {@code what} (a
   * string that names the format, the name inside the file and the image digest); otherwise runs
   * {@code check} and remembers a pass.
   */
  boolean holds(String what, Path file, Check check) throws IOException;
}
