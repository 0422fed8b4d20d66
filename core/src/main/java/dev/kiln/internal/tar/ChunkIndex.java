package dev.kiln.internal.tar;

import dev.kiln.internal.tar.ParallelGzipOutputStream.Candidate;
import dev.kiln.internal.tar.ParallelGzipOutputStream.ChunkRecord;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The chunks of one gzip layer blob ({@link ChunkRecord}s), saved next to the store's blobs so that
 * the next version of the layer can copy the compressed chunks it shares with this one instead of
 * deflating them again. The file is a hint: a chunk is used only after its bytes, read from the
 * blob, match the recorded SHA-256, so a stale, damaged or foreign index costs speed, never
 * correctness. Thread-safe once opened.
 *
 * <p>Format: {@code KILNCHK1}, the record count (int), then per record the 32-byte key, offset
 * (long), length (int) and 32-byte SHA-256, big-endian.
 */
public final class ChunkIndex implements ParallelGzipOutputStream.ChunkSource, Closeable {
  private static final byte[] MAGIC = {'K', 'I', 'L', 'N', 'C', 'H', 'K', '1'};
  private static final int MAX_CHUNK = 64 << 20;

  private record Place(long offset, int length, byte[] sha256) {}

  private final Map<ByteBuffer, Place> byKey;
  private final FileChannel blob;

  private ChunkIndex(Map<ByteBuffer, Place> byKey, FileChannel blob) {
    this.byKey = byKey;
    this.blob = blob;
  }

  /** The index bytes of an output's chunks. */
  public static byte[] encode(List<ChunkRecord> chunks) {
    ByteArrayOutputStream bo = new ByteArrayOutputStream(12 + chunks.size() * 76);
    try (DataOutputStream out = new DataOutputStream(bo)) {
      out.write(MAGIC);
      out.writeInt(chunks.size());
      for (ChunkRecord c : chunks) {
        out.write(c.key());
        out.writeLong(c.offset());
        out.writeInt(c.length());
        out.write(c.sha256());
      }
    } catch (IOException e) {
      throw new IllegalStateException(e); // in memory
    }
    return bo.toByteArray();
  }

  /**
   * Opens the chunks of {@code blobFile} as {@code indexFile} records them; null when either is
   * missing or the index is malformed (the layer is then simply deflated in full).
   */
  public static ChunkIndex open(Path indexFile, Path blobFile) {
    Map<ByteBuffer, Place> byKey = new HashMap<>();
    try (DataInputStream in =
        new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(indexFile)))) {
      byte[] magic = in.readNBytes(MAGIC.length);
      if (!Arrays.equals(magic, MAGIC)) {
        return null;
      }
      int n = in.readInt();
      if (n < 0 || n > 1 << 24) {
        return null;
      }
      for (int i = 0; i < n; i++) {
        byte[] key = in.readNBytes(32);
        long offset = in.readLong();
        int length = in.readInt();
        byte[] sha = in.readNBytes(32);
        if (key.length != 32
            || sha.length != 32
            || offset < 0
            || length < 0
            || length > MAX_CHUNK) {
          return null;
        }
        byKey.putIfAbsent(ByteBuffer.wrap(key), new Place(offset, length, sha));
      }
    } catch (IOException e) {
      return null;
    }
    try {
      return new ChunkIndex(byKey, FileChannel.open(blobFile, StandardOpenOption.READ));
    } catch (IOException e) {
      return null;
    }
  }

  /** Chunks this index knows. */
  public int size() {
    return byKey.size();
  }

  @Override
  public Candidate find(byte[] key) throws IOException {
    Place p = byKey.get(ByteBuffer.wrap(key));
    if (p == null) {
      return null;
    }
    ByteBuffer buf = ByteBuffer.allocate(p.length());
    long pos = p.offset();
    while (buf.hasRemaining()) {
      int n = blob.read(buf, pos);
      if (n < 0) {
        return null; // the index promises more than the blob holds
      }
      pos += n;
    }
    return new Candidate(buf.array(), p.sha256());
  }

  @Override
  public void close() throws IOException {
    blob.close();
  }
}
