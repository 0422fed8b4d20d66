package dev.kiln.spi;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import java.nio.file.Path;
import java.util.Set;

/**
 * Resolves {@code Base.image(reference)} for a scheme, such as {@code docker://} for registries:
 * fetches the image into an OCI image layout and says which manifest it pinned. Discovered with
 * {@link java.util.ServiceLoader} from {@code META-INF/services/dev.kiln.spi.BaseImageProvider}.
 * Implementations must be thread-safe.
 */
public interface BaseImageProvider {

  /**
   * A fetched image: an OCI layout, the tag in it, and the manifest digest the reference resolved
   * to.
   */
  record PulledImage(Path layout, String tag, Digest manifest) {}

  /** The reference schemes handled, such as {@code docker}. */
  Set<String> schemes();

  /**
   * Fetches the image named by {@code reference} into an OCI layout (it may keep a cache of its
   * own; a temp directory from {@link KeyContext#newTempDirectory()} lives until the bake ends).
   */
  PulledImage pull(String reference, KeyContext context) throws BakeException;
}
