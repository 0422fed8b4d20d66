package dev.kiln.internal.tar;

import dev.kiln.Digest;
import dev.kiln.spi.InputChangedException;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerNotes;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes the entries of a canonical layer to its tar, one after the other: each entry's header (see
 * {@link TarWriter}), and a file's content, copied from its source with exactly the declared size.
 * Content given as {@link LayerEntry.Content#hashed} is hashed on its way and must have its digest:
 * the layer holds the bytes its cache key was computed from, or is not written at all. A {@link
 * LayerNotes} given is handed every entry as it is written, and a copy of the content it asks for.
 */
final class EntryWriter {
  private static final int IO_BUFFER = 256 * 1024;

  private final TarWriter tar;
  private final OutputStream tarOut;
  private final LayerNotes notes;
  private final byte[] buffer = new byte[IO_BUFFER];

  /**
   * Writes headers with {@code tar} and content to {@code tarOut}, the stream {@code tar} writes;
   * {@code notes} (may be null) sees each entry.
   */
  EntryWriter(TarWriter tar, OutputStream tarOut, LayerNotes notes) {
    this.tar = tar;
    this.tarOut = tarOut;
    this.notes = notes;
  }

  /**
   * The size of the tar {@link TarWriter} writes of {@code entries}, end included, from their
   * headers and declared sizes alone: no content is read. A content that turns out to have another
   * size fails the write, so a tar that is written has this size.
   */
  static long tarSize(List<LayerEntry> entries, long mtime) throws IOException {
    long[] count = new long[1];
    OutputStream counter =
        new OutputStream() {
          @Override
          public void write(int b) {
            count[0]++;
          }

          @Override
          public void write(byte[] b, int off, int len) {
            count[0] += len;
          }
        };
    TarWriter tar = new TarWriter(counter, mtime);
    EntryWriter sizer = new EntryWriter(tar, counter, null);
    sizer.sizeOnly = true;
    for (LayerEntry e : entries) {
      sizer.write(e);
    }
    tar.finish();
    return count[0];
  }

  private boolean sizeOnly;

  /** What a size pass writes for content: read by nobody, so one array serves every entry. */
  private static final byte[] COUNTED = new byte[IO_BUFFER];

  void write(LayerEntry e) throws IOException {
    OutputStream noted = notes == null ? null : notes.entry(e);
    if (noted == null) {
      write(e, null);
    } else {
      try (noted) {
        write(e, noted);
      }
    }
  }

  private void write(LayerEntry e, OutputStream noted) throws IOException {
    switch (e.type()) {
      case FILE:
        tar.writeHeader(
            e.path(),
            TarWriter.REGULAR,
            e.mode(),
            e.uid(),
            e.gid(),
            e.size(),
            "",
            0,
            0,
            e.xattrs());
        copyContent(e, noted);
        tar.pad(e.size());
        break;
      case DIRECTORY:
        tar.writeHeader(
            e.path() + "/",
            TarWriter.DIRECTORY,
            e.mode(),
            e.uid(),
            e.gid(),
            0,
            "",
            0,
            0,
            e.xattrs());
        break;
      case SYMLINK:
        tar.writeHeader(
            e.path(),
            TarWriter.SYMLINK,
            e.mode(),
            e.uid(),
            e.gid(),
            0,
            e.linkTarget(),
            0,
            0,
            e.xattrs());
        break;
      case HARDLINK:
        tar.writeHeader(
            e.path(),
            TarWriter.HARDLINK,
            e.mode(),
            e.uid(),
            e.gid(),
            0,
            e.linkTarget(),
            0,
            0,
            Map.of());
        break;
      case CHAR_DEVICE:
      case BLOCK_DEVICE:
      case FIFO:
        char type =
            e.type() == Type.CHAR_DEVICE
                ? TarWriter.CHAR_DEVICE
                : e.type() == Type.BLOCK_DEVICE ? TarWriter.BLOCK_DEVICE : TarWriter.FIFO;
        tar.writeHeader(
            e.path(),
            type,
            e.mode(),
            e.uid(),
            e.gid(),
            0,
            "",
            e.devMajor(),
            e.devMinor(),
            e.xattrs());
        break;
      case WHITEOUT:
      case OPAQUE_WHITEOUT:
        tar.writeHeader(TarNames.of(e), TarWriter.REGULAR, 0, 0, 0, 0, "", 0, 0, Map.of());
        break;
      default:
        throw new IllegalStateException("unknown entry type " + e.type());
    }
  }

  /**
   * Copies exactly the declared size, failing if the source turns out shorter or longer than it was
   * declared, or, for hashed content, to have another digest.
   */
  private void copyContent(LayerEntry e, OutputStream noted) throws IOException {
    if (sizeOnly) {
      // the content's bytes, counted without reading it (their values do not change the size;
      // the counter never writes into the shared array)
      for (long left = e.size(); left > 0; left -= COUNTED.length) {
        tarOut.write(COUNTED, 0, (int) Math.min(COUNTED.length, left));
      }
      return;
    }
    LayerEntry.Content.Hashed hashed =
        e.content() instanceof LayerEntry.Content.Hashed h ? h : null;
    HashingOutputStream hashing = hashed != null ? new HashingOutputStream(tarOut) : null;
    OutputStream to = hashing != null ? hashing : tarOut;
    long size = e.size();
    long remaining = size;
    try (InputStream in = open(e)) {
      while (remaining > 0) {
        int n;
        try {
          n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
        } catch (IOException ex) {
          throw new IOException(
              "cannot read the content of layer entry '" + e.path() + "': " + describe(ex), ex);
        }
        if (n < 0) {
          throw changed(
              hashed, e, String.format("expected %d bytes, found %d", size, size - remaining));
        }
        to.write(buffer, 0, n);
        if (noted != null) {
          noted.write(buffer, 0, n);
        }
        remaining -= n;
      }
      if (in.read() >= 0) {
        throw changed(hashed, e, String.format("expected %d bytes, found more", size));
      }
    }
    if (hashing != null) {
      Digest read = hashing.digest();
      if (!read.equals(hashed.digest())) {
        throw changed(hashed, e, "hashed as " + hashed.digest() + ", read as " + read);
      }
    }
  }

  /**
   * The error for content that is not what it was: an {@link InputChangedException} naming the file
   * for {@code hashed} content (null otherwise), else an {@link IOException}.
   */
  private static IOException changed(LayerEntry.Content.Hashed hashed, LayerEntry e, String what) {
    if (hashed == null) {
      return new IOException(
          String.format(
              "content of layer entry '%s' changed while being read: %s", e.path(), what));
    }
    return new InputChangedException(
        hashed.file(),
        String.format(
            "input file '%s' (layer entry '%s') changed after it was hashed for the layer's cache key (%s); the layer "
                + "was not stored: bake again once the file stays put",
            hashed.file(), e.path(), what));
  }

  private static InputStream open(LayerEntry e) throws IOException {
    try {
      return Objects.requireNonNull(e.content().open(), "content stream");
    } catch (IOException ex) {
      throw new IOException(
          "cannot read the content of layer entry '" + e.path() + "': " + describe(ex), ex);
    }
  }

  private static String describe(Exception e) {
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }
}
