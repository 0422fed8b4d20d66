package dev.kiln.docker;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipEncoding;
import org.apache.commons.compress.archivers.zip.ZipEncodingHelper;

/**
 * The tar stream of a docker-archive: directories and files with short ASCII names, written
 * straight into the stream below. A file's content goes through as the caller writes it, in the
 * caller's pieces, where a general tar writer ({@code TarArchiveOutputStream}) cuts it into
 * 512-byte records one at a time (as much work again as the daemon's own intake of a large layer).
 * Headers are the ustar headers of commons-compress; a size of 8 GiB or more is written in
 * base-256, which the daemon's tar reader takes. A file's content must have the size its header
 * announced: more fails the write, less fails {@link #closeEntry}. Not thread-safe.
 */
final class ArchiveTar {
  private static final int RECORD = 512;
  private static final long MTIME_SECONDS = 1;
  private static final ZipEncoding NAMES = ZipEncodingHelper.getZipEncoding("US-ASCII");

  private final OutputStream out;
  private long left = -1; // content bytes the open entry still takes; -1 when none is open
  private long size;
  private String name;

  /** A tar stream into {@code out}, which {@link #finish} closes. */
  ArchiveTar(OutputStream out) {
    this.out = new BufferedOutputStream(out, 1 << 16);
  }

  /** A directory entry, as the daemon's archives have for each layer's directory. */
  void directory(String name) throws IOException {
    header(name, 0, true);
  }

  /** Starts a file entry of {@code size} bytes; its content follows, then {@link #closeEntry}. */
  void file(String name, long size) throws IOException {
    header(name, size, false);
    this.left = size;
    this.size = size;
    this.name = name;
  }

  /** A whole file entry. */
  void bytes(String name, byte[] content) throws IOException {
    file(name, content.length);
    write(content, 0, content.length);
    closeEntry();
  }

  /** Content of the open file entry. */
  void write(byte[] b, int off, int len) throws IOException {
    if (len > left) {
      throw new IOException(
          "'" + name + "' is longer than the " + size + " bytes its header announced");
    }
    out.write(b, off, len);
    left -= len;
  }

  /** Ends the open file entry, padding it to a whole record. */
  void closeEntry() throws IOException {
    if (left != 0) {
      throw new IOException(
          "'" + name + "' ended " + left + " bytes short of the " + size + " its header announced");
    }
    int pad = (int) ((RECORD - size % RECORD) % RECORD);
    out.write(new byte[pad]);
    left = -1;
  }

  /** Passes on what is buffered. */
  void flush() throws IOException {
    out.flush();
  }

  /** Ends the archive (two empty records) and closes the stream below. */
  void finish() throws IOException {
    if (left >= 0) {
      throw new IOException("'" + name + "' was not ended");
    }
    out.write(new byte[2 * RECORD]);
    out.close();
  }

  private void header(String name, long size, boolean dir) throws IOException {
    if (left >= 0) {
      throw new IOException("'" + this.name + "' was not ended");
    }
    if (name.getBytes(StandardCharsets.US_ASCII).length >= 100) {
      throw new IllegalArgumentException("a docker-archive entry name is short: " + name);
    }
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setModTime(MTIME_SECONDS * 1000);
    e.setMode(dir ? 040755 : 0100644);
    e.setSize(size);
    byte[] h = new byte[RECORD];
    e.writeEntryHeader(h, NAMES, true);
    out.write(h);
  }
}
