package dev.kiln.internal.oci;

import dev.kiln.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * An output that compares what is written with a file, byte for byte, except in the ranges
 * announced with {@link #expectBlob}, where the file's bytes are hashed and checked against the
 * blob's digest. Throws {@link Differs} at the first difference.
 */
final class ArchiveComparison extends OutputStream {
  /** The file differs from the archive being compared with it. */
  static final class Differs extends IOException {
    private static final long serialVersionUID = 1L;

    Differs() {
      super("the file differs from the archive of the image");
    }
  }

  private final InputStream file;
  private final byte[] buf = new byte[1 << 16];
  private long pos;
  private Digest blob;
  private long blobEnd;
  private MessageDigest sha;

  ArchiveComparison(InputStream file) {
    this.file = file;
  }

  /**
   * The next {@code size} bytes written are the content of blob {@code d}: hash the file's instead.
   */
  void expectBlob(Digest d, long size) throws IOException {
    sha = sha256();
    blob = d;
    blobEnd = pos + size;
    if (size == 0) {
      endBlob();
    }
  }

  private void endBlob() throws IOException {
    boolean same = Digest.fromBytes(sha.digest()).equals(blob);
    blob = null;
    if (!same) {
      throw new Differs();
    }
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    while (len > 0) {
      boolean inBlob = blob != null;
      int n =
          (int)
              (inBlob
                  ? Math.min(Math.min(len, buf.length), blobEnd - pos)
                  : Math.min(len, buf.length));
      if (file.readNBytes(buf, 0, n) != n) {
        throw new Differs();
      }
      if (inBlob) {
        sha.update(buf, 0, n);
      } else if (!Arrays.equals(buf, 0, n, b, off, off + n)) {
        throw new Differs();
      }
      pos += n;
      off += n;
      len -= n;
      if (inBlob && pos == blobEnd) {
        endBlob();
      }
    }
  }

  /** True when every blob was whole and the file has no bytes after those compared. */
  boolean atEnd() throws IOException {
    return blob == null && file.read() < 0;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
