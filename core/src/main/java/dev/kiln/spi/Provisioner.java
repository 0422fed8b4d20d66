package dev.kiln.spi;

import dev.kiln.BakeException;
import dev.kiln.Layer;

/**
 * Turns layers of one kind into content. Core provides {@code files} and {@code tar}; provider
 * modules add {@code run}, {@code packages}, {@code ansible}. Implementations must be thread-safe:
 * the engine prepares and provisions independent layers concurrently.
 */
public interface Provisioner {

  /** The layer kind this provisioner handles, matched against {@link Layer#kind()}. */
  String kind();

  /**
   * Reads and checks the layer's inputs (hashing files through {@link KeyContext#files()}) and
   * returns what can fingerprint and provision it. Bad input (a missing source, an unsafe path)
   * fails here, before anything is written.
   */
  PreparedLayer prepare(Layer layer, KeyContext context) throws BakeException;
}
