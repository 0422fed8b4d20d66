package dev.kiln.spi;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * Reads the entries of one layer (a tar, plain or gzip-compressed) in the order they are stored,
 * with OCI whiteouts turned into {@link LayerEntry.Type#WHITEOUT} / {@link
 * LayerEntry.Type#OPAQUE_WHITEOUT} entries.
 *
 * <p>Every entry is checked as it is read: paths are normalised and may not escape the root ({@code
 * ..}), an entry may not be written through a symlink that an earlier entry of the same layer
 * created, and a truncated or non-tar input is an {@link IOException} that says so. For a {@code
 * FILE} entry, {@link LayerEntry#content()} opens the bytes of that entry; it is valid only until
 * the next call to {@link #next()}. Not thread-safe.
 */
public interface LayerReader extends Closeable {

  /** The next entry, or {@code null} at the end of the layer. */
  LayerEntry next() throws IOException;

  /** Opens a layer tarball, detecting gzip by its magic bytes. */
  static LayerReader open(Path tarOrTarGz) throws IOException {
    return TarLayerReader.open(tarOrTarGz);
  }

  /**
   * Reads a layer from a stream (plain or gzip tar, detected by its magic bytes); {@code source}
   * names it in error messages. Closing the reader closes the stream.
   */
  static LayerReader of(InputStream in, String source) throws IOException {
    return TarLayerReader.of(in, source);
  }
}
