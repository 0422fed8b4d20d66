package dev.kiln.spi;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.kiln.spi.LayerEntry.Type;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Reads a layer tarball, plain or gzip-compressed (detected by its magic bytes), as checked {@link
 * LayerEntry} values: the {@link LayerReader} contract.
 *
 * <p>Parsing is left to commons-compress, which knows the GNU, PAX, star and v7 variants. Around
 * it, this reader watches the raw bytes that go by: to verify every header checksum
 * (commons-compress does not), to tell a proper end of archive (a zero block) from a truncated one
 * (commons-compress just stops), and to take {@code SCHILY.xattr.*} values as raw bytes
 * (commons-compress decodes PAX values as UTF-8, which mangles binary attributes such as {@code
 * security.capability}). A gzip stream is read to its end so that its CRC is checked too. The bytes
 * are recorded by {@link HeaderRecordingStream} and judged by {@link TarHeaderChain}; {@link
 * TarEntryMapper} turns each entry into a {@link LayerEntry}, with the paths checked by {@link
 * TarPathGuard}.
 *
 * <p>Entries come in archive order. Paths are normalised ({@code ./a//b} becomes {@code a/b}) and
 * the root entry is skipped; {@code .wh.NAME} becomes a {@link Type#WHITEOUT} of {@code dir/NAME}
 * and {@code .wh..wh..opq} an {@link Type#OPAQUE_WHITEOUT} of {@code dir}; other {@code .wh..wh.*}
 * names and everything under a top-level one (aufs bookkeeping such as {@code .wh..wh.plnk/}) are
 * skipped, as Docker does, though hard links into them are not resolved. mtimes, user and group
 * names are dropped. Not thread-safe.
 */
final class TarLayerReader implements LayerReader {
  private static final int BUFFER = 64 * 1024;

  private final String source;
  private final boolean gzip;
  private final HeaderRecordingStream tap;
  private final TarArchiveInputStream tar;
  private final TarEntryMapper mapper;

  private final byte[] scratch = new byte[BUFFER];

  /**
   * Bumped on every {@link #next()}, so that a content stream of an earlier entry refuses to read.
   */
  private long generation;

  private boolean entryOpen;
  private boolean atEnd;
  private boolean closed;

  private TarLayerReader(InputStream raw, String source) throws IOException {
    this.source = source;
    BufferedInputStream in = new BufferedInputStream(raw, BUFFER);
    in.mark(4);
    byte[] magic = in.readNBytes(4);
    in.reset();
    InputStream decoded;
    if (magic.length >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b) {
      gzip = true;
      try {
        decoded = new GZIPInputStream(in, BUFFER);
      } catch (IOException e) {
        throw truncated(e);
      }
    } else if (magic.length == 4
        && (magic[0] & 0xff) == 0x28
        && (magic[1] & 0xff) == 0xb5
        && (magic[2] & 0xff) == 0x2f
        && (magic[3] & 0xff) == 0xfd) {
      throw new IOException("zstd-compressed layers are not supported yet: " + source);
    } else {
      gzip = false;
      decoded = in;
    }
    this.tap = new HeaderRecordingStream(decoded);
    this.tar = new TarArchiveInputStream(tap, UTF_8.name());
    this.mapper = new TarEntryMapper(source);
  }

  /** Opens a layer file, detecting gzip by its magic bytes. */
  public static TarLayerReader open(Path file) throws IOException {
    InputStream raw;
    try {
      raw = Files.newInputStream(file);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(file.toString(), null, "layer file not found");
    }
    return of(raw, file.toString());
  }

  /**
   * Reads a layer from a stream (plain or gzip tar), called "stream" in messages; closing the
   * reader closes it.
   */
  public static TarLayerReader of(InputStream in) throws IOException {
    return of(in, "stream");
  }

  /**
   * Reads a layer from a stream (plain or gzip tar); {@code source} names it in error messages.
   * Closing the reader closes the stream.
   */
  public static TarLayerReader of(InputStream in, String source) throws IOException {
    Objects.requireNonNull(in, "in");
    try {
      return new TarLayerReader(in, Objects.requireNonNull(source, "source"));
    } catch (IOException | RuntimeException e) {
      try {
        in.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  @Override
  public LayerEntry next() throws IOException {
    if (closed) {
      throw new IllegalStateException("layer reader is closed: " + source);
    }
    if (atEnd) {
      return null;
    }
    while (true) {
      skipRestOfEntry();
      generation++;
      long start = tap.position;
      TarArchiveEntry te;
      tap.startRecording();
      try {
        te = tar.getNextEntry();
      } catch (IOException | RuntimeException e) {
        throw truncated(e);
      } finally {
        tap.stopRecording();
      }
      TarHeaderChain chain =
          TarHeaderChain.parse(tap.recorded, tap.recordedLength, start, tap.overflow);
      if (chain.badChecksumAt >= 0) {
        throw new IOException(
            "truncated or not a tar archive: "
                + source
                + " (bad header checksum at offset "
                + chain.badChecksumAt
                + ")");
      }
      if (te == null) {
        if (!chain.endMarker && !tap.overflow) {
          throw new IOException(
              "truncated or not a tar archive: " + source + " (no end-of-archive marker)");
        }
        finishStream();
        atEnd = true;
        return null;
      }
      // Drained by us before the next header, even if skipped: commons-compress would otherwise
      // skip it while we
      // record, and the recording must hold headers only.
      entryOpen = true;
      LayerEntry entry = mapper.convert(te, chain.xattrs, this::content);
      if (entry != null) {
        return entry;
      }
    }
  }

  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      generation++;
      tar.close();
    }
  }

  /**
   * Reads what the caller left of the current entry, so a truncated entry is noticed even when
   * nobody reads it.
   */
  private void skipRestOfEntry() throws IOException {
    if (!entryOpen) {
      return;
    }
    entryOpen = false;
    try {
      while (tar.read(scratch, 0, scratch.length) >= 0) {
        // discard
      }
    } catch (IOException | RuntimeException e) {
      throw truncated(e);
    }
  }

  /**
   * Reads a gzip stream to its end, where GZIPInputStream checks the CRC and length of what it
   * inflated.
   */
  private void finishStream() throws IOException {
    if (!gzip) {
      return;
    }
    try {
      while (tap.read(scratch, 0, scratch.length) >= 0) {
        // discard what follows the end-of-archive blocks
      }
    } catch (IOException e) {
      throw truncated(e);
    }
  }

  /**
   * The content of the file entry at {@code path}: opened at most once, and only until the reader
   * moves on.
   */
  private LayerEntry.Content content(String path) {
    long gen = generation;
    boolean[] opened = {false};
    return () -> {
      if (gen != generation) {
        throw gone(path);
      }
      if (opened[0]) {
        throw new IOException(
            "content of tar entry '" + path + "' in " + source + " can be opened only once");
      }
      opened[0] = true;
      return new EntryContent(path, gen);
    };
  }

  private IOException gone(String path) {
    return new IOException(
        "content of tar entry '"
            + path
            + "' in "
            + source
            + " is gone: the reader has moved past it");
  }

  private IOException truncated(Exception cause) {
    if (cause instanceof UnsafeLayerException) {
      return (UnsafeLayerException) cause;
    }
    return new IOException(
        "truncated or not a tar archive: " + source + " (" + cause.getMessage() + ")", cause);
  }

  /**
   * The bytes of the current file entry, readable until the reader moves on; closing it does not
   * close the reader.
   */
  private final class EntryContent extends InputStream {
    private final String path;
    private final long gen;

    EntryContent(String path, long gen) {
      this.path = path;
      this.gen = gen;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (gen != generation) {
        throw gone(path);
      }
      try {
        return tar.read(b, off, len);
      } catch (IOException | RuntimeException e) {
        throw truncated(e);
      }
    }

    @Override
    public int available() throws IOException {
      return gen == generation ? tar.available() : 0;
    }
  }
}
