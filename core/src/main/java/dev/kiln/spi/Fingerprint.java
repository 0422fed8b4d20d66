package dev.kiln.spi;

import com.google.common.collect.ImmutableList;
import com.google.common.io.BaseEncoding;
import dev.kiln.Digest;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects everything that decides a layer's content, in a canonical, unambiguous encoding, and the
 * named input digests that the image record lists. The layer's cache key is the SHA-256 of its
 * parent's key, its kind and this fingerprint. Not thread-safe.
 *
 * <p>The encoding: each field is its type character (UTF-16LE), the length-prefixed UTF-8 name,
 * then the value — numbers as 8 bytes, strings and digests length-prefixed, lists count-prefixed;
 * integers little-endian. Fields are buffered and hashed in bulk: a files layer of 30,000 entries
 * adds about 200,000 small fields.
 */
public final class Fingerprint {

  /** A named input and its content digest, as the image record lists it. */
  public record Input(String name, Digest digest) {}

  private static final int BUFFER = 8192;

  private final MessageDigest sha256 = newSha256();
  private final byte[] buf = new byte[BUFFER];
  private int pos;
  private final List<Input> inputs = new ArrayList<>();

  /** Adds a named string value. */
  public Fingerprint put(String name, String value) {
    field('s', name);
    string(value);
    return this;
  }

  /** Adds a named number. */
  public Fingerprint put(String name, long value) {
    field('l', name);
    putLong(value);
    return this;
  }

  /** Adds a named list of strings. */
  public Fingerprint put(String name, List<String> values) {
    field('L', name);
    putInt(values.size());
    for (String v : values) {
      string(v);
    }
    return this;
  }

  /** Adds a named content digest without listing it as an input. */
  public Fingerprint put(String name, Digest digest) {
    field('d', name);
    string(digest.hex());
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
    flush();
    return new Digest(BaseEncoding.base16().lowerCase().encode(sha256.digest()));
  }

  /** The inputs listed so far. */
  public ImmutableList<Input> inputs() {
    return ImmutableList.copyOf(inputs);
  }

  private void field(char type, String name) {
    room(2);
    buf[pos++] = (byte) type;
    buf[pos++] = (byte) (type >>> 8);
    string(name);
  }

  private void string(String s) {
    int n = s.length();
    if (n <= BUFFER - 4) {
      // the common case (paths, names, hex digests) is 7-bit text, whose UTF-8 bytes are its chars:
      // copied in one
      // pass, which falls back to the encoder at the first other char
      room(4 + n);
      int start = pos + 4;
      int i = 0;
      while (i < n) {
        char c = s.charAt(i);
        if (c >= 0x80) {
          break;
        }
        buf[start + i] = (byte) c;
        i++;
      }
      if (i == n) {
        putInt(n);
        pos += n;
        return;
      }
    }
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    putInt(b.length);
    bytes(b);
  }

  private void bytes(byte[] b) {
    if (b.length > BUFFER - pos) {
      flush();
      sha256.update(b);
    } else {
      System.arraycopy(b, 0, buf, pos, b.length);
      pos += b.length;
    }
  }

  private void putInt(int v) {
    room(4);
    for (int i = 0; i < 4; i++) {
      buf[pos++] = (byte) (v >>> (8 * i));
    }
  }

  private void putLong(long v) {
    room(8);
    for (int i = 0; i < 8; i++) {
      buf[pos++] = (byte) (v >>> (8 * i));
    }
  }

  private void room(int n) {
    if (BUFFER - pos < n) {
      flush();
    }
  }

  private void flush() {
    sha256.update(buf, 0, pos);
    pos = 0;
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }
}
