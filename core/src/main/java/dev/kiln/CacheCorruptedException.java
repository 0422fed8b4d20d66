package dev.kiln;

/**
 * Content in the local store did not match its digest. The bake that meets it evicts the entry and
 * provisions it again; it is never used.
 */
public class CacheCorruptedException extends BakeException {
  private static final long serialVersionUID = 1L;
  private final Digest expected;

  public CacheCorruptedException(Digest expected, String message) {
    super(message);
    this.expected = expected;
  }

  /** The digest the content should have had. */
  public Digest expected() {
    return expected;
  }
}
