package dev.kiln;

/**
 * A target string or typed target that no store can accept: unknown scheme, malformed reference,
 * bad option.
 */
public class InvalidTargetException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public InvalidTargetException(String message) {
    super(message);
  }
}
