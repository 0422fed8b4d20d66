package dev.kiln.internal.tar;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerReader;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * The content of a flattened file read on its own: each open reads the layer {@code file} again,
 * from its start up to the inode's entry. Correct, but linear in the layer's size, so {@link
 * LayerFlattener#forEach} reads the contents of many files in one pass instead.
 */
final class RescannedContent implements LayerEntry.Content {
  private final Path file;
  private final Inode inode;

  RescannedContent(Path file, Inode inode) {
    this.file = file;
    this.inode = inode;
  }

  @Override
  public InputStream open() throws IOException {
    LayerReader reader = LayerReader.open(file);
    try {
      LayerEntry e = null;
      for (long i = 0; i <= inode.ordinal; i++) {
        e = reader.next();
        if (e == null) {
          break;
        }
      }
      if (e == null || !e.path().equals(inode.meta.path()) || e.type() != Type.FILE) {
        throw new IOException(
            "layer "
                + file
                + " changed since it was flattened: '"
                + inode.meta.path()
                + "' is gone");
      }
      return new FilterInputStream(e.content().open()) {
        @Override
        public void close() throws IOException {
          reader.close();
        }
      };
    } catch (IOException | RuntimeException ex) {
      reader.close();
      throw ex;
    }
  }
}
