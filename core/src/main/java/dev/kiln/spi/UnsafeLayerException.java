package dev.kiln.spi;

import java.io.IOException;

/**
 * A layer tarball holds an entry that would land outside the image root or be written through a
 * symlink of the same layer; the message names the entry. Never retried: the tarball itself is at
 * fault.
 */
public final class UnsafeLayerException extends IOException {
  private static final long serialVersionUID = 1L;

  /** An exception with a message that names the offending entry. */
  public UnsafeLayerException(String message) {
    super(message);
  }
}
