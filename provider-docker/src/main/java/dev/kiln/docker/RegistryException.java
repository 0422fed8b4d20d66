package dev.kiln.docker;

import java.io.IOException;

/**
 * A registry answered with an error: the HTTP status and the registry's error codes, when it sent
 * any.
 */
final class RegistryException extends IOException {
  private static final long serialVersionUID = 1L;
  private final int status;
  private final String codes;

  RegistryException(int status, String codes, String message) {
    super(message);
    this.status = status;
    this.codes = codes == null ? "" : codes;
  }

  int status() {
    return status;
  }

  /** The registry's error codes, such as {@code MANIFEST_INVALID}, comma-separated. */
  String codes() {
    return codes;
  }

  boolean retryable() {
    return status >= 500 || status == 429 || status == 408;
  }
}
