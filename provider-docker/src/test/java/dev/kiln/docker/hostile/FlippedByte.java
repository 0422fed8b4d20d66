package dev.kiln.docker.hostile;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** A stream whose byte at one position is changed: what another writer's edit looks like. */
final class FlippedByte extends FilterInputStream {
  private final long at;
  private final int mask;
  private long pos;

  /** {@code in}, with the byte at {@code at} XORed with {@code mask} (not 0). */
  FlippedByte(InputStream in, long at, int mask) {
    super(in);
    this.at = at;
    this.mask = mask;
  }

  @Override
  public int read() throws IOException {
    byte[] b = new byte[1];
    int n = read(b, 0, 1);
    return n < 0 ? -1 : b[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = in.read(b, off, len);
    if (n > 0 && at >= pos && at < pos + n) {
      b[off + (int) (at - pos)] ^= (byte) mask;
    }
    pos += Math.max(n, 0);
    return n;
  }
}
