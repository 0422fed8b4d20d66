package dev.kiln.spi;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * An assembled image in the local store, as image stores and provisioners see it: the OCI manifest
 * and config, the layers lowest first, and their blobs. Thread-safe.
 */
public interface ImageView extends Blobs {

  /** The digest of the OCI manifest: the image's identity. */
  Digest digest();

  /** The OCI image manifest (application/vnd.oci.image.manifest.v1+json), exactly as hashed. */
  byte[] manifest();

  Digest configDigest();

  /** The OCI image config JSON, exactly as hashed. */
  byte[] config();

  /** The platform the image is for, as its config says ({@code architecture}, {@code os}). */
  default Platform platform() {
    try {
      return IndexPlatforms.platform(new ObjectMapper().readTree(config()));
    } catch (IOException e) {
      throw new UncheckedIOException("unreadable image config of " + digest(), e);
    }
  }

  /** The runtime configuration the image config was made from. */
  ImageConfig runtimeConfig();

  /** The layers, lowest first. */
  List<LayerRecord> layers();

  /**
   * Where the image's bases end, as layer counts, innermost first: {@code [1]} for a root file
   * system base with layers on top, {@code [1, 3]} for a build on {@code Base.of(b)} where {@code
   * b} has a rootfs and two layers. Disk images are laid out base by base along these boundaries,
   * so an image's disk extends its base's disk.
   */
  default List<Integer> bases() {
    return List.of();
  }

  /**
   * The cache key of the top layer (or of the base when there is no layer): the recipe's identity.
   */
  Digest key();

  /**
   * Opens a blob (layer, config or manifest) of this image. The stream checks the content against
   * the digest as it is read and throws {@link CorruptBlobException} at the end if it does not
   * match.
   */
  InputStream openBlob(Digest digest) throws IOException;

  /** The size in bytes of a blob of this image. */
  long blobSize(Digest digest) throws IOException;
}
