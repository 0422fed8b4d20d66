package dev.kiln.spi;

import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import java.util.List;
import java.util.Optional;

/**
 * An image this bake is assembling, handed to its stores once the uncompressed tar of every layer
 * is written (every diffID known), while the compressed blobs of the layers it wrote may still be
 * compressing ({@link ImageStore#imageTarsWritten}). A store that takes layers uncompressed (as the
 * Docker daemon does) can finish its transfer with the image's config now, instead of after the
 * last blob is compressed.
 *
 * <p>A preview in the sense of {@link LayerInProgress}: the config is the one the image is to be
 * assembled with, but a store treats what it sent as the image only once {@link ImageStore#publish}
 * hands it an image with the same config digest, and it publishes nothing the user sees (no tag)
 * before that. Thread-safe.
 */
public interface ImageTars extends Blobs {

  /** The image's platform. */
  Platform platform();

  /** The image's config (a copy), as the image is to be assembled. */
  byte[] config();

  /** The digest of {@link #config()}. */
  Digest configDigest();

  /** The diffIDs of the image's layers, bottom first: those of the config's {@code rootfs}. */
  List<Digest> diffIds();

  /**
   * The record of each layer, bottom first, when its blob is in the local store already (a layer
   * found in the store, pulled, or written and compressed by now); empty for a layer whose blob is
   * still being compressed. Their blobs are read through {@link #openBlob}.
   */
  List<Optional<LayerRecord>> stored();
}
