package dev.kiln.internal.graph;

import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import dev.kiln.LayerRecord;
import dev.kiln.internal.store.KeyEntry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.zip.GZIPInputStream;

/** Checks what a remote cache served before the local store trusts it. */
final class RemoteBlobs {
  private RemoteBlobs() {}

  /**
   * Checks a downloaded layer blob against its entry in one pass: size, blob digest and, for a gzip layer, the
   * diffID of the decompressed stream (an entry whose diffID is wrong would give images that no runtime accepts).
   * Empty when it is right, else what is wrong.
   */
  static Optional<String> check(Path file, KeyEntry e) throws IOException {
    long size = Files.size(file);
    if (size != e.size()) {
      return Optional.of("expected " + e.size() + " bytes, received " + size);
    }
    boolean gzip = isGzip(e.mediaType());
    try (HashingInputStream compressed = new HashingInputStream(Hashing.sha256(), Files.newInputStream(file))) {
      String diffId;
      if (gzip) {
        try (HashingInputStream raw = new HashingInputStream(Hashing.sha256(), new GZIPInputStream(new NoClose(compressed), 1 << 16))) {
          raw.transferTo(java.io.OutputStream.nullOutputStream());
          diffId = raw.hash().toString();
        } catch (IOException ex) {
          return Optional.of("not a gzip stream: " + ex.getMessage());
        }
        compressed.transferTo(java.io.OutputStream.nullOutputStream()); // trailing bytes count towards the blob digest
      } else {
        compressed.transferTo(java.io.OutputStream.nullOutputStream());
        diffId = null;
      }
      String digest = compressed.hash().toString();
      if (!digest.equals(e.digest().hex())) {
        return Optional.of("blob hashes to sha256:" + digest + ", expected " + e.digest());
      }
      if (diffId == null) {
        diffId = digest;
      }
      if (!diffId.equals(e.diffId().hex())) {
        return Optional.of("layer content hashes to sha256:" + diffId + ", its entry says diffID " + e.diffId());
      }
      return Optional.empty();
    }
  }

  static boolean isGzip(String mediaType) {
    return mediaType.equals(LayerRecord.GZIP_LAYER) || mediaType.endsWith("+gzip") || mediaType.endsWith(".gzip");
  }

  /** Keeps GZIPInputStream from closing the hashing stream under it. */
  private static final class NoClose extends java.io.FilterInputStream {
    NoClose(InputStream in) {
      super(in);
    }

    @Override
    public void close() {}
  }
}
