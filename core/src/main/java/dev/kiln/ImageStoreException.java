package dev.kiln;

/** An image could not be published to, or read from, a target. Carries the target it concerns. */
public class ImageStoreException extends BakeException {
  private static final long serialVersionUID = 1L;
  private final String target;

  public ImageStoreException(String target, String message) {
    super(target + ": " + message);
    this.target = target;
  }

  public ImageStoreException(String target, String message, Throwable cause) {
    super(target + ": " + message, cause);
    this.target = target;
  }

  /** The target, as written. */
  public String target() {
    return target;
  }
}
