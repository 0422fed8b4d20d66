package dev.kiln.spi;

import com.google.common.collect.ImmutableList;
import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects everything that decides a layer's content, in a canonical, unambiguous encoding, and the named input
 * digests that the image record lists. The layer's cache key is the SHA-256 of its parent's key, its kind and this
 * fingerprint. Not thread-safe.
 */
public final class Fingerprint {

  /** A named input and its content digest, as the image record lists it. */
  public record Input(String name, Digest digest) {}

  private final Hasher hasher = Hashing.sha256().newHasher();
  private final List<Input> inputs = new ArrayList<>();

  /** Adds a named string value. */
  public Fingerprint put(String name, String value) {
    field('s', name);
    bytes(value.getBytes(StandardCharsets.UTF_8));
    return this;
  }

  /** Adds a named number. */
  public Fingerprint put(String name, long value) {
    field('l', name);
    hasher.putLong(value);
    return this;
  }

  /** Adds a named list of strings. */
  public Fingerprint put(String name, List<String> values) {
    field('L', name);
    hasher.putInt(values.size());
    for (String v : values) {
      bytes(v.getBytes(StandardCharsets.UTF_8));
    }
    return this;
  }

  /** Adds a named content digest without listing it as an input. */
  public Fingerprint put(String name, Digest digest) {
    field('d', name);
    bytes(digest.hex().getBytes(StandardCharsets.US_ASCII));
    return this;
  }

  /** Adds a content digest and lists it among the layer's inputs in the image record. */
  public Fingerprint input(String name, Digest digest) {
    put(name, digest);
    inputs.add(new Input(name, digest));
    return this;
  }

  /** The digest of everything added. Call once. */
  public Digest digest() {
    return new Digest(hasher.hash().toString());
  }

  /** The inputs listed so far. */
  public ImmutableList<Input> inputs() {
    return ImmutableList.copyOf(inputs);
  }

  private void field(char type, String name) {
    hasher.putChar(type);
    bytes(name.getBytes(StandardCharsets.UTF_8));
  }

  private void bytes(byte[] b) {
    hasher.putInt(b.length).putBytes(b);
  }
}
