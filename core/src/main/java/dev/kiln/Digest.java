package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.hash.Hashing;

/**
 * A SHA-256 content digest in OCI form, {@code sha256:<64 lowercase hex>}.
 *
 * <p>Immutable and thread-safe.
 */
public record Digest(String hex) implements Comparable<Digest> {
  public Digest {
    checkArgument(isHex(hex), "not a sha256 hex digest: %s", hex);
  }

  /**
   * 64 lowercase hex digits (a loop: digests are made by the hundred thousand on a no-op rebake).
   */
  private static boolean isHex(String s) {
    if (s == null || s.length() != 64) {
      return false;
    }
    for (int i = 0; i < 64; i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  /** Parses {@code sha256:<hex>}. */
  public static Digest parse(String s) {
    checkArgument(s != null && s.startsWith("sha256:"), "expected sha256:<hex>, found %s", s);
    return new Digest(s.substring("sha256:".length()));
  }

  /** The digest of the given bytes. */
  public static Digest of(byte[] bytes) {
    return new Digest(Hashing.sha256().hashBytes(bytes).toString());
  }

  /** The digest from 32 raw bytes. */
  public static Digest fromBytes(byte[] raw) {
    checkArgument(raw.length == 32, "a sha256 digest has 32 bytes, found %s", raw.length);
    return new Digest(com.google.common.io.BaseEncoding.base16().lowerCase().encode(raw));
  }

  /** The first 12 hex digits, as tools show them. */
  public String shortHex() {
    return hex.substring(0, 12);
  }

  @Override
  public String toString() {
    return "sha256:" + hex;
  }

  @Override
  public int compareTo(Digest o) {
    return hex.compareTo(o.hex);
  }
}
