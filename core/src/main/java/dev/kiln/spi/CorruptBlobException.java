package dev.kiln.spi;

import dev.kiln.Digest;
import java.io.IOException;

/**
 * Blob content read from the store did not match its digest. The engine evicts it and provisions it
 * again.
 */
public class CorruptBlobException extends IOException {
  private static final long serialVersionUID = 1L;
  private final transient Digest expected;

  public CorruptBlobException(Digest expected, String message) {
    super(message);
    this.expected = expected;
  }

  public Digest expected() {
    return expected;
  }
}
