package dev.kiln.internal.tar;

import dev.kiln.spi.LayerEntry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where {@link CanonicalLayerWriter#add(LayerEntry, InputStream)} keeps streamed content until the
 * layer is written: one append-only temp file in {@code tmpDir}, created by the first {@link
 * #append}, so memory holds metadata only. Each appended entry's content is read back from its own
 * window of the file. Not thread-safe.
 */
final class ContentSpool implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ContentSpool.class);

  private static final int IO_BUFFER = 256 * 1024;

  private final Path tmpDir;
  private Path file;
  private FileChannel channel;
  private byte[] buffer;

  ContentSpool(Path tmpDir) {
    this.tmpDir = tmpDir;
  }

  /**
   * Copies exactly {@code entry.size()} bytes of {@code content} to the spool file and returns the
   * content that reads them back, valid until {@link #close()}.
   */
  LayerEntry.Content append(LayerEntry entry, InputStream content) throws IOException {
    if (channel == null) {
      file = Files.createTempFile(tmpDir, "kiln-spool-", ".bin");
      // Written sequentially at the channel position, read back with positional reads that leave it
      // alone.
      channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
      buffer = new byte[IO_BUFFER];
    }
    // Each entry starts where the channel is, so a refused stream's bytes are never read as another
    // entry's, even when rewinding over them fails.
    long offset = channel.position();
    try {
      copy(entry, content);
    } catch (IOException | RuntimeException e) {
      try {
        channel.position(offset); // the next entry overwrites what the refused stream left
      } catch (IOException t) {
        e.addSuppressed(t);
      }
      throw e;
    }
    FileChannel spooled = channel;
    long length = entry.size();
    return () -> Channels.newInputStream(new Slice(spooled, offset, length));
  }

  /**
   * Appends exactly {@code entry.size()} bytes of {@code content}, or fails if it has more or less.
   */
  private void copy(LayerEntry entry, InputStream content) throws IOException {
    long remaining = entry.size();
    while (remaining > 0) {
      int n = content.read(buffer, 0, (int) Math.min(buffer.length, remaining));
      if (n < 0) {
        throw new IOException(
            String.format(
                "content of layer entry '%s' ended after %d of its %d bytes",
                entry.path(), entry.size() - remaining, entry.size()));
      }
      ByteBuffer bb = ByteBuffer.wrap(buffer, 0, n);
      while (bb.hasRemaining()) {
        channel.write(bb);
      }
      remaining -= n;
    }
    if (content.read() >= 0) {
      throw new IOException(
          String.format(
              "content of layer entry '%s' is longer than its declared %d bytes",
              entry.path(), entry.size()));
    }
  }

  /** Closes and deletes the spool file: the contents {@link #append} returned read no more. */
  @Override
  public void close() {
    buffer = null;
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        log.debug("closing spool file {} failed", file, e);
      }
      channel = null;
    }
    if (file != null) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        log.warn("could not delete temp file {}", file, e);
      }
      file = null;
    }
  }

  /**
   * A read-only window on the spool file, read with positional reads so windows need no shared
   * position.
   */
  private static final class Slice implements ReadableByteChannel {
    private final FileChannel channel;
    private long position;
    private final long end;

    Slice(FileChannel channel, long offset, long length) {
      this.channel = channel;
      this.position = offset;
      this.end = offset + length;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      if (position >= end) {
        return -1;
      }
      int limit = dst.limit();
      if (dst.remaining() > end - position) {
        dst.limit(dst.position() + (int) (end - position));
      }
      try {
        int n = channel.read(dst, position);
        if (n > 0) {
          position += n;
        }
        return n;
      } finally {
        dst.limit(limit);
      }
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {
      // The spool channel is shared by all windows and closed by the spool.
    }
  }
}
