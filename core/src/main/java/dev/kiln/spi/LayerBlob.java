package dev.kiln.spi;

import com.google.common.collect.ImmutableSortedMap;
import dev.kiln.Digest;
import java.nio.file.Path;
import java.util.Map;

/**
 * A layer in canonical form, written but not yet committed to the store: a gzip-compressed PAX tar
 * in {@link #file()}, with its diffID (sha256 of the uncompressed tar), blob digest (sha256 of the
 * compressed bytes), sizes, and metadata the provisioner wants in the image record (e.g. resolved
 * package versions). The engine moves the file into the store; a provider never does.
 */
public record LayerBlob(
    Digest diffId,
    Digest digest,
    long size,
    long uncompressedSize,
    long entries,
    Path file,
    Map<String, String> metadata) {

  public LayerBlob {
    metadata = ImmutableSortedMap.copyOf(metadata);
  }

  /** A blob without metadata. */
  public LayerBlob(
      Digest diffId, Digest digest, long size, long uncompressedSize, long entries, Path file) {
    this(diffId, digest, size, uncompressedSize, entries, file, Map.of());
  }

  /**
   * This blob with metadata for the image record (keys such as {@code packages.curl} → version).
   */
  public LayerBlob metadata(Map<String, String> metadata) {
    return new LayerBlob(diffId, digest, size, uncompressedSize, entries, file, metadata);
  }

  /**
   * @deprecated use {@link #metadata(Map)}
   */
  @Deprecated(since = "0.2")
  public LayerBlob withMetadata(Map<String, String> metadata) {
    return metadata(metadata);
  }
}
