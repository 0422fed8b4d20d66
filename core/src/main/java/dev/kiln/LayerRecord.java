package dev.kiln;

import com.google.common.collect.ImmutableSortedMap;
import dev.kiln.spi.Fingerprint;
import java.util.List;
import java.util.Map;

/**
 * One layer of a baked image: its name and kind, the cache key of its recipe, its diffID
 * (uncompressed) and blob digest (compressed), size, the size of the uncompressed tar (-1 when
 * unknown, as for a base image's layers), media type, the named inputs that built it, and what its
 * provisioner recorded (e.g. resolved package versions).
 */
public record LayerRecord(
    String name,
    String kind,
    Digest key,
    Digest diffId,
    Digest digest,
    long size,
    long uncompressedSize,
    String mediaType,
    List<Fingerprint.Input> inputs,
    Map<String, String> metadata) {

  /** The OCI media type of a gzip-compressed layer, what Kiln writes. */
  public static final String GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

  /** The OCI media type of an uncompressed layer (accepted in OCI bases). */
  public static final String TAR_LAYER = "application/vnd.oci.image.layer.v1.tar";

  /**
   * Whether a layer media type is gzip-compressed (OCI {@code +gzip}, Docker's {@code .tar.gzip}).
   */
  public static boolean isGzip(String mediaType) {
    return mediaType.endsWith("+gzip") || mediaType.endsWith(".gzip");
  }

  public LayerRecord {
    inputs = List.copyOf(inputs);
    metadata = ImmutableSortedMap.copyOf(metadata);
  }
}
