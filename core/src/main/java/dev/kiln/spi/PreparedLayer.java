package dev.kiln.spi;

import dev.kiln.BakeException;

/**
 * A layer whose inputs have been read and checked: it can say what decides its content (its
 * fingerprint) and, on a cache miss, produce it. Returned by {@link Provisioner#prepare}.
 */
public interface PreparedLayer {

  /**
   * Adds everything, other than the parent's key and the layer kind, that decides this layer's
   * content.
   */
  void fingerprint(Fingerprint fingerprint);

  /**
   * Whether provisioning reads the image below (a container of the parent layers does; a files
   * layer does not). Layers that do not are provisioned in parallel with the layers below them.
   */
  default boolean needsParent() {
    return false;
  }

  /**
   * Whether the layer is final as soon as its writer has written the whole tar, before {@link
   * LayerWriter#finish} returns: every check this layer makes of its inputs happens while it writes
   * (a files layer checks each file against its digest as it copies it), and {@link #provision}
   * does nothing after {@code finish()} but return. A bake that returns once its targets hold the
   * image ({@code Kiln.bakeEarly}) lets them name it when this is true of every layer it writes,
   * before their blobs are compressed. False by default: such a bake waits for the layer to be
   * provisioned whole.
   */
  default boolean finalOnceWritten() {
    return false;
  }

  /** Produces the layer through {@link ProvisionContext#newLayerWriter()}. */
  LayerBlob provision(ProvisionContext context) throws BakeException;
}
