package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.hash.Hashing;
import java.util.regex.Pattern;

/**
 * A SHA-256 content digest in OCI form, {@code sha256:<64 lowercase hex>}.
 *
 * <p>Immutable and thread-safe.
 */
public record Digest(String hex) implements Comparable<Digest> {
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

  public Digest {
    checkArgument(hex != null && HEX.matcher(hex).matches(), "not a sha256 hex digest: %s", hex);
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
