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

  /**
   * Whether this store reads layers uncompressed: then the bake keeps the uncompressed tar of each
   * layer it writes until it ends, and offers them through the publish context's {@link
   * UncompressedLayers} capability. False by default (no copy is kept).
   */
  default boolean readsUncompressedLayers() {
    return false;
  }

  /**
   * Called when this bake starts writing a layer of an image bound for this store, before {@link
   * #find} or {@link #publish}: a store that sends layers elsewhere may start sending the blob
   * while it is compressed (see {@link LayerInProgress} for what it may trust). Must return at once
   * (do the work on a thread of the store's own) and must not throw; whatever it did not finish or
   * that failed, {@link #publish} does the usual way. Does nothing by default.
   */
  default void layerWriting(LayerInProgress layer, PublishContext context) {}

  /**
   * Called, when the bake keeps the tars of the layers it writes (a store of the bake {@link
   * #readsUncompressedLayers reads layers uncompressed}), once the tar of every layer of an image
   * bound for this store is written, before {@link #find} or {@link #publish}: the image's blobs
   * may still be compressing. A store that loads layers uncompressed may finish its load with the
   * image's config now, without making it visible under the target's name before {@link #publish}
   * (see {@link ImageTars} for what it may trust). Called at most once per image, not at all if a
   * layer fails; must return at once and must not throw. Does nothing by default.
   */
  default void imageTarsWritten(ImageTars image, PublishContext context) {}

  /** Publishes the image; called only when {@link #find} found nothing. */
  PublishedImage publish(ImageView image, PublishContext context) throws BakeException;

  /**
   * Whether this store takes a build baked for several platforms ({@link #publishIndex}): an image
   * index, or the one image of the index it chooses (such as the daemon's own platform). A bake of
   * several platforms refuses a target whose store does not, before it writes anything.
   */
  default boolean takesIndex() {
    return false;
  }

  /** What the target already holds of this multi-platform image, if exactly this. */
  default Optional<PublishedImage> findIndex(IndexView index, PublishContext context)
      throws BakeException {
    return Optional.empty();
  }

  /**
   * Publishes a multi-platform image; called only when {@link #takesIndex} and {@link #findIndex}
   * found nothing.
   */
  default PublishedImage publishIndex(IndexView index, PublishContext context)
      throws BakeException {
    throw new UnsupportedOperationException(getClass().getName() + " takes no image index");
  }
}
