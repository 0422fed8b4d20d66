package dev.kiln.spi;

import dev.kiln.BakeException;
import dev.kiln.PublishedImage;
import java.util.Optional;

/**
 * Publishes assembled images to one target. Created for a target by an {@link ImageStoreProvider}.
 * Publishing is idempotent: a target that already holds the image is left alone. Implementations
 * must be thread-safe.
 */
public interface ImageStore {

  /**
   * What the target already holds of this image, if it holds exactly this image. A store checks
   * what it can read of the target (sizes and digests of every part), not just the name of the
   * image, so that a damaged target is written again instead of being reported as reused.
   */
  default Optional<PublishedImage> find(ImageView image, PublishContext context)
      throws BakeException {
    return Optional.empty();
  }

  /**
   * The local file or directory this store writes, if any. A bake refuses targets whose outputs
   * would overwrite each other (see {@link LocalOutput}) before it writes anything. Empty for
   * stores that write no local file.
   */
  default Optional<LocalOutput> localOutput() {
    return Optional.empty();
  }

  /** Publishes the image; called only when {@link #find} found nothing. */
  PublishedImage publish(ImageView image, PublishContext context) throws BakeException;
}
