package dev.kiln.disk;

import dev.kiln.BakeException;

/**
 * A disk image could not be built: the image has no kernel, the requested size is too small for the
 * content, a host tool is missing, or a tool failed. The message says what was expected, what was
 * found and what to do.
 */
public class DiskException extends BakeException {
  private static final long serialVersionUID = 1L;

  public DiskException(String message) {
    super(message);
  }

  public DiskException(String message, Throwable cause) {
    super(message, cause);
  }
}
