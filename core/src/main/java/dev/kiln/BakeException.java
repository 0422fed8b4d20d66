package dev.kiln;

/**
 * The root of the failures a bake can end with; the message says what was expected, what was found
 * and what to do. Subtypes name the stage: {@link ProvisioningException}, {@link
 * ImageStoreException}, {@link CacheCorruptedException}.
 */
public class BakeException extends Exception {
  private static final long serialVersionUID = 1L;

  public BakeException(String message) {
    super(message);
  }

  public BakeException(String message, Throwable cause) {
    super(message, cause);
  }
}
