package dev.kiln.spi;

import dev.kiln.Platform;
import java.io.IOException;
import java.util.concurrent.Executor;

/** What a provisioner can use while it produces a layer. Thread-safe. */
public interface ProvisionContext extends KeyContext {

  /** A writer that turns entries into this layer's canonical blob, in the store's temp area. */
  LayerWriter newLayerWriter() throws IOException;

  /**
   * The image below this layer (base and lower layers, with their blobs in the store); available
   * only to layers whose {@link PreparedLayer#needsParent()} is true.
   *
   * @throws IllegalStateException for a layer that did not ask for its parent
   */
  ImageView parent();

  /** The bake's executor, for work a provisioner wants to parallelise. */
  Executor executor();

  /**
   * The platform this layer is baked for: a layer that runs commands runs them on it (under
   * emulation when it is not the host's).
   */
  default Platform platform() {
    return Platform.host();
  }
}
