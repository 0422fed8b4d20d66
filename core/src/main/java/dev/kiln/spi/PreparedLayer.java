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

  /** Produces the layer through {@link ProvisionContext#newLayerWriter()}. */
  LayerBlob provision(ProvisionContext context) throws BakeException;
}
