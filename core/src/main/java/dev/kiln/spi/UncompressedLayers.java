package dev.kiln.spi;

import dev.kiln.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;

/**
 * The uncompressed tars of the layers this bake wrote, kept for the length of the bake so that a
 * target that takes layers uncompressed (such as a Docker daemon's load) need not inflate the
 * stored gzip blob. A {@link PublishContext#capability capability} of the publish context, offered
 * to stores whose {@link ImageStore#readsUncompressedLayers()} is true. Thread-safe.
 */
public interface UncompressedLayers {

  /**
   * Opens the uncompressed tar of the layer with this diffID, if this bake wrote it and it is still
   * {@code size} bytes long; empty otherwise (read the stored blob then). The stream checks the
   * content against the diffID as it is read and throws {@link CorruptBlobException} instead of
   * returning its last bytes when the content does not match (changed, shorter or longer): a
   * consumer that stops at the error has never seen the whole of a wrong tar.
   */
  Optional<InputStream> open(Digest diffId, long size) throws IOException;
}
