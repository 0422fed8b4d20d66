package dev.kiln.spi;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.Platform;
import dev.kiln.ProvisioningException;
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

  /**
   * Fetches the image named by {@code reference} for {@code platform}: from an image index, the
   * image of that platform. The default serves {@code linux/amd64} through {@link #pull(String,
   * KeyContext)} and refuses other platforms.
   */
  default PulledImage pull(String reference, Platform platform, KeyContext context)
      throws BakeException {
    if (!platform.equals(Platform.LINUX_AMD64)) {
      throw new ProvisioningException(
          "base",
          "the provider of " + reference + " fetches linux/amd64 images only, not " + platform);
    }
    return pull(reference, context);
  }
}
