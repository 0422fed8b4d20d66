package dev.kiln.spi;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An input file of a layer no longer holds the content its cache key was computed from: it was
 * changed after it was hashed, or while it was read. The layer is not stored; a new bake hashes the
 * file again. The message names the file.
 */
public final class InputChangedException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public InputChangedException(Path file, String message) {
    super(message);
    this.file = file;
  }

  /** The input file that changed. */
  public Path file() {
    return file;
  }
}
