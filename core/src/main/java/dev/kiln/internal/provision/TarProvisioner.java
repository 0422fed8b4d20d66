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
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Provisions {@code tar} layers (and root file system tarballs): the tarball's entries are checked (no {@code ..},
 * nothing written through a symlink) and rewritten in canonical form. The key is the tarball's content digest.
 * Thread-safe (stateless).
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
        throw new ProvisioningException(layer.name(), "tarball '" + file + "' does not exist or is not a file");
      }
      digest = ctx.files().digest(file);
    } catch (NoSuchFileException e) {
      throw new ProvisioningException(layer.name(), "tarball '" + file + "' does not exist", e);
    } catch (AccessDeniedException e) {
      throw new ProvisioningException(layer.name(), "cannot read tarball '" + file + "': permission denied", e);
    } catch (IOException e) {
      throw new ProvisioningException(layer.name(), "cannot read tarball '" + file + "': " + e.getMessage(), e);
    }
    return new PreparedLayer() {
      @Override
      public void fingerprint(Fingerprint fp) {
        fp.put("format", "tar.v1");
        fp.input(file.getFileName().toString(), digest);
      }

      @Override
      public LayerBlob provision(ProvisionContext pc) throws BakeException {
        return rewrite(layer.name(), file, pc);
      }
    };
  }

  /** Reads a tarball entry by entry into the canonical writer. */
  static LayerBlob rewrite(String layer, Path file, ProvisionContext pc) throws BakeException {
    try {
      return copy(file, pc);
    } catch (IllegalArgumentException e) {
      throw new ProvisioningException(layer, "unsafe tarball '" + file + "': " + e.getMessage(), e);
    } catch (IOException e) {
      throw new ProvisioningException(layer, "cannot use tarball '" + file + "': " + e.getMessage(), e);
    }
  }

  /**
   * Copies every entry of a layer tarball (checked as {@link LayerReader} reads it) into a new canonical layer. An
   * unsafe entry is an {@link IllegalArgumentException} or an {@link java.io.IOException}; callers name the layer.
   */
  static LayerBlob copy(Path file, ProvisionContext pc) throws IOException {
    try (LayerReader r = LayerReader.open(file);
        LayerWriter w = pc.newLayerWriter()) {
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
      return w.finish();
    }
  }
}
