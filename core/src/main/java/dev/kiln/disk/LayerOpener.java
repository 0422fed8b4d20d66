package dev.kiln.disk;

import dev.kiln.spi.LayerReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * Reads a layer from a stream (plain or gzip tar); the tar reader of core unless a test substitutes
 * its own.
 */
@FunctionalInterface
interface LayerOpener {
  LayerReader open(InputStream in, String name) throws IOException;

  /** Reads the layer file {@code layer}, named by its file name. */
  default LayerReader open(Path layer) throws IOException {
    return open(LayerInput.open(layer), layer.getFileName().toString());
  }
}
