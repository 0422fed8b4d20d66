package dev.kiln.spi;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Notes an {@link Attestor} takes on one layer while Kiln writes it, so that {@link
 * Attestor#attest} finds what it needs in them ({@link AttestContext#notes}) instead of reading the
 * layer back from the store. Kiln hands a note taker every entry of the layer in the order of the
 * layer's tar, which is the order a {@link LayerReader} of the finished layer gives, and a file's
 * content exactly as it goes into the tar, so notes taken while writing and notes taken by reading
 * the layer back are the same. The notes of a layer whose writing fails are dropped.
 *
 * <p>Called on the one thread that writes the layer; each layer gets a note taker of its own.
 */
public interface LayerNotes {

  /**
   * Takes note of {@code entry}, and returns where the content of a {@link LayerEntry.Type#FILE}
   * entry should go as well (exactly {@link LayerEntry#size()} bytes, then closed), or null when
   * the content is not wanted. The entry's own {@link LayerEntry#content()} must not be opened.
   */
  OutputStream entry(LayerEntry entry) throws IOException;
}
