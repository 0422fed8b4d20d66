package dev.kiln.disk;

import java.io.FileInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * A layer file as an input stream whose {@link #available()} is the number of bytes left, counted
 * here: the buffered streams above it ask after every partial read, and the JDK's file streams
 * answer with system calls (fstat and lseek) each time, tens of thousands of them for a rootfs
 * tarball. Not thread-safe.
 */
final class LayerInput extends FilterInputStream {
  private long remaining;

  private LayerInput(InputStream in, long length) {
    super(in);
    this.remaining = length;
  }

  static InputStream open(Path file) throws IOException {
    return new LayerInput(new FileInputStream(file.toFile()), java.nio.file.Files.size(file));
  }

  @Override
  public int read() throws IOException {
    int b = in.read();
    if (b >= 0) {
      remaining--;
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = in.read(b, off, len);
    if (n > 0) {
      remaining -= n;
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long s = in.skip(n);
    if (s > 0) {
      remaining -= s;
    }
    return s;
  }

  @Override
  public int available() {
    return (int) Math.max(0, Math.min(Integer.MAX_VALUE, remaining));
  }

  @Override
  public boolean markSupported() {
    return false;
  }
}
