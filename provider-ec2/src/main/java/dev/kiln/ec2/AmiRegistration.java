package dev.kiln.ec2;

import com.google.common.collect.ImmutableMap;
import dev.kiln.Digest;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@link AmiRegistrar#register} turns into an AMI: a completed snapshot holding the image's disk, the image's
 * digest and cache key, and the record's inputs (tagged {@code kiln:input:NAME}).
 *
 * <p>Immutable and thread-safe.
 */
final class AmiRegistration {
  private final String snapshotId;
  private final long volumeSizeGiB;
  private final Digest digest;
  private final String cacheKey;
  private final ImmutableMap<String, String> inputs;
  private final Optional<String> description;

  private AmiRegistration(
      String snapshotId,
      long volumeSizeGiB,
      Digest digest,
      String cacheKey,
      Map<String, String> inputs,
      Optional<String> description) {
    this.snapshotId = Objects.requireNonNull(snapshotId, "snapshotId");
    this.volumeSizeGiB = volumeSizeGiB;
    this.digest = Objects.requireNonNull(digest, "digest");
    this.cacheKey = Objects.requireNonNull(cacheKey, "cacheKey");
    this.inputs = ImmutableMap.copyOf(inputs);
    this.description = description;
  }

  /** A registration of {@code snapshotId} ({@code volumeSizeGiB} GiB) as the image {@code digest}. */
  public static AmiRegistration of(String snapshotId, long volumeSizeGiB, Digest digest, String cacheKey) {
    if (volumeSizeGiB < 1) {
      throw new IllegalArgumentException("volume size must be at least 1 GiB, found " + volumeSizeGiB);
    }
    return new AmiRegistration(snapshotId, volumeSizeGiB, digest, cacheKey, Map.of(), Optional.empty());
  }

  /** Sets the inputs to record as {@code kiln:input:NAME} tags (name up to 117, value up to 256 characters). */
  public AmiRegistration inputs(Map<String, String> in) {
    return new AmiRegistration(snapshotId, volumeSizeGiB, digest, cacheKey, in, description);
  }

  /** Sets the AMI description (up to 255 characters). */
  public AmiRegistration description(String text) {
    if (text.length() > 255) {
      throw new IllegalArgumentException("an AMI description has at most 255 characters, found " + text.length());
    }
    return new AmiRegistration(snapshotId, volumeSizeGiB, digest, cacheKey, inputs, Optional.of(text));
  }

  public String snapshotId() {
    return snapshotId;
  }

  public long volumeSizeGiB() {
    return volumeSizeGiB;
  }

  public Digest digest() {
    return digest;
  }

  public String cacheKey() {
    return cacheKey;
  }

  public Map<String, String> inputs() {
    return inputs;
  }

  public Optional<String> description() {
    return description;
  }
}
