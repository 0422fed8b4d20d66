package dev.kiln.ec2;

import com.google.common.collect.ImmutableMap;
import dev.kiln.Digest;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@link AmiRegistrar#register} turns into an AMI: a completed snapshot holding the image's
 * disk, the image's digest and cache key, and the record's inputs (tagged {@code kiln:input:NAME}).
 *
 * <p>Immutable and thread-safe.
 *
 * @param snapshotId the completed snapshot
 * @param volumeSizeGiB its volume size, at least 1 GiB
 * @param digest the image digest
 * @param cacheKey the image's cache key
 * @param inputs the inputs to record as {@code kiln:input:NAME} tags (name up to 117, value up to
 *     256 characters)
 * @param description the AMI description (up to 255 characters), if not the default
 */
record AmiRegistration(
    String snapshotId,
    long volumeSizeGiB,
    Digest digest,
    String cacheKey,
    Map<String, String> inputs,
    Optional<String> description) {
  AmiRegistration {
    Objects.requireNonNull(snapshotId, "snapshotId");
    if (volumeSizeGiB < 1) {
      throw new IllegalArgumentException(
          "volume size must be at least 1 GiB, found " + volumeSizeGiB);
    }
    Objects.requireNonNull(digest, "digest");
    Objects.requireNonNull(cacheKey, "cacheKey");
    inputs = ImmutableMap.copyOf(inputs);
    if (description.isPresent() && description.get().length() > 255) {
      throw new IllegalArgumentException(
          "an AMI description has at most 255 characters, found " + description.get().length());
    }
  }

  /**
   * A registration of {@code snapshotId} ({@code volumeSizeGiB} GiB) as the image {@code digest}.
   */
  static AmiRegistration of(String snapshotId, long volumeSizeGiB, Digest digest, String cacheKey) {
    return new AmiRegistration(
        snapshotId, volumeSizeGiB, digest, cacheKey, Map.of(), Optional.empty());
  }

  /** Sets the inputs to record as {@code kiln:input:NAME} tags. */
  AmiRegistration inputs(Map<String, String> in) {
    return new AmiRegistration(snapshotId, volumeSizeGiB, digest, cacheKey, in, description);
  }

  /** Sets the AMI description. */
  AmiRegistration description(String text) {
    return new AmiRegistration(
        snapshotId, volumeSizeGiB, digest, cacheKey, inputs, Optional.of(text));
  }
}
