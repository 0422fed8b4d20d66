package dev.kiln.internal.provision;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.TarLayer;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Provisions {@code tar} layers (and root file system tarballs): the tarball's entries are checked
 * (no {@code ..}, nothing written through a symlink) and rewritten in canonical form. The key is
 * the tarball's content digest. Thread-safe (stateless).
 */
public final class TarProvisioner implements Provisioner {

  @Override
  public String kind() {
    return "tar";
  }

  @Override
  public PreparedLayer prepare(Layer layer, KeyContext ctx) throws BakeException {
    TarLayer tar = (TarLayer) layer;
    Path file = tar.tarball();
    Digest digest;
    try {
      if (!Files.isRegularFile(file)) {
        throw new ProvisioningException(
            layer.name(), "tarball '" + file + "' does not exist or is not a file");
      }
      digest = ctx.files().digest(file);
    } catch (NoSuchFileException e) {
      throw new ProvisioningException(layer.name(), "tarball '" + file + "' does not exist", e);
    } catch (AccessDeniedException e) {
      throw new ProvisioningException(
          layer.name(), "cannot read tarball '" + file + "': permission denied", e);
    } catch (IOException e) {
      throw new ProvisioningException(
          layer.name(), "cannot read tarball '" + file + "': " + e.getMessage(), e);
    }
    return new PreparedLayer() {
      @Override
      public void fingerprint(Fingerprint fp) {
        fp.put("format", "tar.v1");
        fp.input(file.getFileName().toString(), digest);
      }

      /** The tarball's digest is checked before the writer finishes (see {@link #rewrite}). */
      @Override
      public boolean finalOnceWritten() {
        return true;
      }

      @Override
      public LayerBlob provision(ProvisionContext pc) throws BakeException {
        return rewrite(layer.name(), file, digest, pc);
      }
    };
  }

  /**
   * Reads a tarball entry by entry into the canonical writer, hashing its bytes on the way: a
   * tarball that no longer has the digest its key was computed from is an error naming it, found
   * before the layer is written.
   */
  static LayerBlob rewrite(String layer, Path file, Digest digest, ProvisionContext pc)
      throws BakeException {
    try (HashingStream raw = new HashingStream(Files.newInputStream(file));
        LayerReader r = LayerReader.of(raw, file.toString());
        LayerWriter w = pc.newLayerWriter()) {
      copyEntries(r, w);
      Digest read = raw.finish();
      if (!read.equals(digest)) {
        pc.files().forget(file);
        throw new ProvisioningException(
            layer,
            "tarball '"
                + file
                + "' changed after it was hashed for the layer's cache"
                + " key (hashed as "
                + digest
                + ", read as "
                + read
                + "); the layer was not stored: bake again once the"
                + " file stays put");
      }
      return w.finish();
    } catch (IllegalArgumentException e) {
      throw new ProvisioningException(layer, "unsafe tarball '" + file + "': " + e.getMessage(), e);
    } catch (IOException e) {
      throw new ProvisioningException(
          layer, "cannot use tarball '" + file + "': " + e.getMessage(), e);
    }
  }

  /**
   * Copies every entry a layer reader gives (checked as it reads them) into a canonical layer
   * writer. An unsafe entry is an {@link IllegalArgumentException} or an {@link IOException};
   * callers name the layer.
   */
  static void copyEntries(LayerReader r, LayerWriter w) throws IOException {
    LayerEntry e;
    while ((e = r.next()) != null) {
      if (e.type() == LayerEntry.Type.FILE) {
        try (InputStream in = e.content().open()) {
          w.add(e, in);
        }
      } else {
        w.add(e);
      }
    }
  }

  /**
   * Hashes every byte read through it; {@link #finish} reads what the tar reader left (padding) and
   * digests all.
   */
  private static final class HashingStream extends FilterInputStream {
    private final MessageDigest sha256;

    HashingStream(InputStream in) {
      super(in);
      try {
        sha256 = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is required of every Java platform", e);
      }
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        sha256.update((byte) b);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) {
        sha256.update(b, off, n);
      }
      return n;
    }

    /** Reads instead of skipping, so that every byte is hashed. */
    @Override
    public long skip(long n) throws IOException {
      byte[] buf = new byte[(int) Math.min(8192, Math.max(n, 1))];
      long skipped = 0;
      while (skipped < n) {
        int r = read(buf, 0, (int) Math.min(buf.length, n - skipped));
        if (r < 0) {
          break;
        }
        skipped += r;
      }
      return skipped;
    }

    Digest finish() throws IOException {
      byte[] buf = new byte[64 * 1024];
      while (read(buf, 0, buf.length) >= 0) {
        // the rest of the file
      }
      return Digest.fromBytes(sha256.digest());
    }

    @Override
    public boolean markSupported() {
      return false;
    }
  }
}
