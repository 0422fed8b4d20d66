package dev.kiln.spi;

import java.io.IOException;
import java.io.InputStream;

/**
 * Turns entries and whiteouts into one canonical, reproducible {@link LayerBlob}: PAX tar, entries
 * sorted by path, parent directories explicit, fixed mtime, declared ownership, no user or group
 * names, OCI whiteouts, gzip with no name and no timestamp at a fixed level. A files layer, a
 * container diff and an Ansible run all go through this one writer, so the same content always
 * gives the same diffID and blob digest.
 *
 * <p>Entries may be added in any order. Adding the same path twice keeps the last one. A path that
 * would be written through a symlink of the same layer is rejected. Not thread-safe: one thread
 * adds, then finishes.
 */
public interface LayerWriter extends AutoCloseable {

  /** Adds an entry whose content (for files) is read when the layer is written. */
  void add(LayerEntry entry) throws IOException;

  /**
   * Adds a file entry whose content is read now from {@code content} (exactly {@code entry.size()}
   * bytes), for sources that can be read only once, such as a tar stream. The content is spooled to
   * the store's temp area.
   */
  void add(LayerEntry entry, InputStream content) throws IOException;

  /** Writes the layer and returns it; the writer cannot be used afterwards. */
  LayerBlob finish() throws IOException;

  /** Discards everything written so far unless {@link #finish()} returned. */
  @Override
  void close() throws IOException;
}
