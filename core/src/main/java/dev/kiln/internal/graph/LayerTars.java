package dev.kiln.internal.graph;

import dev.kiln.Digest;
import dev.kiln.spi.CorruptBlobException;
import dev.kiln.spi.UncompressedLayers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The uncompressed tars of the layers one bake wrote, by diffID, when a target of the bake reads
 * layers uncompressed ({@code docker-daemon:}): the layer writer keeps a copy of the tar it hashes,
 * in the bake's temp area, which the bake removes when it ends. A copy is trusted for nothing: it
 * is read through a stream that hashes it and fails before its last bytes unless they are exactly
 * the diffID's. Thread-safe.
 */
final class LayerTars implements UncompressedLayers {
  /** Bytes held back until the whole tar is known to match its diffID. */
  static final int HOLD = 1 << 16;

  private volatile boolean keep;
  private final Map<Digest, Path> tars = new ConcurrentHashMap<>();

  /** Whether layer writers keep their tars in this bake. */
  boolean keep() {
    return keep;
  }

  /** Makes the layer writers of this bake keep their tars (before any is created). */
  void keep(boolean keep) {
    this.keep = keep;
  }

  /** Remembers the tar of a finished layer (an earlier one of the same diffID is replaced). */
  void put(Digest diffId, Path tar) {
    Path old = tars.put(diffId, tar);
    if (old != null && !old.equals(tar)) {
      try {
        Files.deleteIfExists(old);
      } catch (IOException e) {
        // in the bake's temp area: removed with it
      }
    }
  }

  @Override
  public Optional<InputStream> open(Digest diffId, long size) throws IOException {
    Path p = tars.get(diffId);
    if (p == null || size < 0) {
      return Optional.empty();
    }
    try {
      if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.size(p) != size) {
        return Optional.empty();
      }
      return Optional.of(new Checked(Files.newInputStream(p), diffId, size, p));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  /**
   * Reads exactly {@code size} bytes, hashing them, and hands out the last {@link #HOLD} of them
   * only once the whole content, and nothing after it, matched the diffID.
   */
  private static final class Checked extends InputStream {
    private final InputStream in;
    private final Digest diffId;
    private final long size;
    private final Path file;
    private final MessageDigest sha256;
    private long handedOut;
    private byte[] tail;
    private int tailPos;

    Checked(InputStream in, Digest diffId, long size, Path file) {
      this.in = in;
      this.diffId = diffId;
      this.size = size;
      this.file = file;
      try {
        this.sha256 = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is required of every Java platform", e);
      }
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      long free = size - Math.min(size, HOLD) - handedOut;
      if (free > 0) {
        int n = in.read(b, off, (int) Math.min(len, free));
        if (n < 0) {
          throw corrupt("it ends after " + handedOut + " of " + size + " bytes");
        }
        sha256.update(b, off, n);
        handedOut += n;
        return n;
      }
      if (tail == null) {
        tail = checkedTail();
      }
      if (tailPos == tail.length) {
        return -1;
      }
      int n = Math.min(len, tail.length - tailPos);
      System.arraycopy(tail, tailPos, b, off, n);
      tailPos += n;
      handedOut += n;
      return n;
    }

    private byte[] checkedTail() throws IOException {
      byte[] t = in.readNBytes((int) (size - handedOut));
      if (t.length != size - handedOut) {
        throw corrupt("it ends after " + (handedOut + t.length) + " of " + size + " bytes");
      }
      sha256.update(t);
      if (in.read() >= 0) {
        throw corrupt("it is longer than " + size + " bytes");
      }
      Digest got = Digest.fromBytes(sha256.digest());
      if (!got.equals(diffId)) {
        throw corrupt("its content hashes to " + got);
      }
      return t;
    }

    private CorruptBlobException corrupt(String why) {
      return new CorruptBlobException(
          diffId, "the uncompressed copy " + file + " of layer " + diffId + " changed: " + why);
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
