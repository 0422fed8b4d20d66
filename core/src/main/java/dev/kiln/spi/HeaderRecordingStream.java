package dev.kiln.spi;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Passes the decompressed tar of a {@link TarLayerReader} through, counting bytes and, while asked
 * to, keeping a copy of them: the headers commons-compress consumes in one {@code getNextEntry()}
 * call. Skips are reads, so every byte is seen.
 */
final class HeaderRecordingStream extends FilterInputStream {
  /** Headers of one entry are a few KiB; PAX headers with large xattrs stay well below this. */
  private static final int MAX_RECORDING = 8 << 20;

  long position;
  byte[] recorded = new byte[4 * TarHeaderChain.BLOCK];
  int recordedLength;
  boolean recording;
  boolean overflow;
  private final byte[] skipBuffer = new byte[8192];

  HeaderRecordingStream(InputStream in) {
    super(in);
  }

  void startRecording() {
    recording = true;
    recordedLength = 0;
    overflow = false;
  }

  void stopRecording() {
    recording = false;
  }

  @Override
  public int read() throws IOException {
    int b = in.read();
    if (b >= 0) {
      seen(new byte[] {(byte) b}, 0, 1);
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = in.read(b, off, len);
    if (n > 0) {
      seen(b, off, n);
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long skipped = 0;
    while (skipped < n) {
      int r = read(skipBuffer, 0, (int) Math.min(skipBuffer.length, n - skipped));
      if (r < 0) {
        break;
      }
      skipped += r;
    }
    return skipped;
  }

  @Override
  public boolean markSupported() {
    return false;
  }

  @Override
  public synchronized void mark(int readlimit) {
    // unsupported: commons-compress then reads the optional second zero block for good, which is
    // what we want
  }

  @Override
  public synchronized void reset() throws IOException {
    throw new IOException("mark/reset not supported");
  }

  private void seen(byte[] b, int off, int n) {
    position += n;
    if (!recording || overflow) {
      return;
    }
    if (recordedLength + n > MAX_RECORDING) {
      overflow = true;
      return;
    }
    if (recordedLength + n > recorded.length) {
      recorded = Arrays.copyOf(recorded, Math.max(recorded.length * 2, recordedLength + n));
    }
    System.arraycopy(b, off, recorded, recordedLength, n);
    recordedLength += n;
  }
}
