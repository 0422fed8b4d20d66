package dev.kiln.spi;

import dev.kiln.Digest;
import dev.kiln.Platform;
import java.util.List;
import java.util.Optional;

/**
 * A build baked for several platforms, as image stores see it: the OCI image index (one manifest
 * per platform) and the image of each platform, all in the local store. Thread-safe.
 */
public interface IndexView {

  /** The digest of the OCI image index: the multi-platform image's identity. */
  Digest digest();

  /** The OCI image index (application/vnd.oci.image.index.v1+json), exactly as hashed. */
  byte[] index();

  /** The image of each platform, in the order of the index. */
  List<ImageView> images();

  /** The image for {@code platform}, if the index has one ({@link Platform#accepts}). */
  default Optional<ImageView> image(Platform platform) {
    return images().stream().filter(i -> platform.accepts(i.platform())).findFirst();
  }
}
