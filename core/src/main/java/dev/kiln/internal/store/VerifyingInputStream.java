package dev.kiln.internal.store;

import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import dev.kiln.Digest;
import dev.kiln.spi.CorruptBlobException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Verifies the SHA-256 of what is read against the expected digest when the end is reached. */
final class VerifyingInputStream extends FilterInputStream {
  private final Digest expected;
  private boolean checked;

  VerifyingInputStream(InputStream in, Digest expected) {
    super(new HashingInputStream(Hashing.sha256(), in));
    this.expected = expected;
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b < 0) {
      check();
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = super.read(b, off, len);
    if (n < 0) {
      check();
    }
    return n;
  }

  private void check() throws IOException {
    if (checked) {
      return;
    }
    checked = true;
    String actual = ((HashingInputStream) in).hash().toString();
    if (!actual.equals(expected.hex())) {
      throw new CorruptBlobException(
          expected,
          "blob " + expected + " in the store is corrupt: its content hashes to sha256:" + actual);
    }
  }
}
