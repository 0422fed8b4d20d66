package dev.kiln.internal.tar;

import dev.kiln.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Hashes (SHA-256) and counts the bytes on their way to another stream, without a second read: the
 * uncompressed tar on its way to the compressor (the diffID), and an input file on its way into the
 * tar (the digest its layer's cache key was computed from).
 */
final class HashingOutputStream extends OutputStream {
  private final OutputStream out;
  private final MessageDigest sha256;
  private long count;

  HashingOutputStream(OutputStream out) {
    this.out = out;
    try {
      this.sha256 = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    sha256.update(b, off, len);
    out.write(b, off, len);
    count += len;
  }

  long count() {
    return count;
  }

  /** The SHA-256 of the bytes written so far; call once, when they are all written. */
  Digest digest() {
    return Digest.fromBytes(sha256.digest());
  }
}
