package dev.kiln.internal.provision;

import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import dev.kiln.BakeException;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.ProvisioningException;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerReader;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Copies the layers of an OCI-layout base into the store, verified; gzip blobs are kept byte for
 * byte.
 */
public final class OciBaseProvisioner implements Provisioner {

  @Override
  public String kind() {
    return OciBaseLayer.KIND;
  }

  @Override
  public PreparedLayer prepare(Layer layer, KeyContext ctx) {
    OciBaseLayer l = (OciBaseLayer) layer;
    return new PreparedLayer() {
      @Override
      public void fingerprint(Fingerprint fp) {
        fp.put("format", "oci-base.v1");
        fp.input("blob " + l.name(), l.digest());
        fp.put("diffId", l.diffId());
      }

      @Override
      public LayerBlob provision(ProvisionContext pc) throws BakeException {
        try {
          if (l.mediaType().equals(LayerRecord.GZIP_LAYER)
              || l.mediaType().endsWith("docker.image.rootfs.diff.tar.gzip")) {
            Path tmp = pc.newTempDirectory().resolve("blob");
            try (InputStream in =
                new HashingInputStream(Hashing.sha256(), Files.newInputStream(l.blob()))) {
              Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
              String actual = ((HashingInputStream) in).hash().toString();
              if (!actual.equals(l.digest().hex())) {
                throw new ProvisioningException(
                    l.name(), "base blob " + l.blob() + " does not match its digest " + l.digest());
              }
            }
            return new LayerBlob(l.diffId(), l.digest(), Files.size(tmp), -1, -1, tmp);
          }
          try (LayerReader r = LayerReader.open(l.blob());
              LayerWriter w = pc.newLayerWriter()) {
            TarProvisioner.copyEntries(r, w);
            return w.finish();
          }
        } catch (IOException | IllegalArgumentException e) {
          throw new ProvisioningException(
              l.name(), "cannot use base layer " + l.blob() + ": " + e.getMessage(), e);
        }
      }
    };
  }
}
