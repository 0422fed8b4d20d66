package dev.kiln.ec2;

import com.google.common.collect.ImmutableMap;
import dev.kiln.Digest;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One image to publish as an AMI: its raw disk, digest, cache key and inputs, and optionally the
 * image it was built on (its cache key and raw disk), whose snapshot, when this account has it,
 * makes the upload incremental.
 *
 * <p>Immutable and thread-safe.
 *
 * @param disk the image's raw disk
 * @param digest the image digest
 * @param cacheKey the image's cache key
 * @param inputs recorded as {@code kiln:input:NAME} tags on the AMI
 * @param base the image this one was built on, if any
 */
public record PublishRequest(
    Path disk, Digest digest, String cacheKey, Map<String, String> inputs, Optional<Base> base) {
  public PublishRequest {
    Objects.requireNonNull(disk, "disk");
    Objects.requireNonNull(digest, "digest");
    Objects.requireNonNull(cacheKey, "cacheKey");
    inputs = ImmutableMap.copyOf(inputs);
    Objects.requireNonNull(base, "base");
  }

  /**
   * Publishes the raw disk {@code disk} of the image {@code digest} whose cache key is {@code
   * cacheKey}.
   */
  public static PublishRequest of(Path disk, Digest digest, String cacheKey) {
    return new PublishRequest(disk, digest, cacheKey, Map.of(), Optional.empty());
  }

  /** Records these inputs as {@code kiln:input:NAME} tags on the AMI. */
  public PublishRequest inputs(Map<String, String> in) {
    return new PublishRequest(disk, digest, cacheKey, in, base);
  }

  /**
   * Names the image this one was built on: if a completed snapshot tagged {@code
   * kiln:key=baseCacheKey} exists in the region, the upload starts from it and sends only the
   * blocks where {@code disk} differs from {@code baseDisk}.
   */
  public PublishRequest base(String baseCacheKey, Path baseDisk) {
    return new PublishRequest(
        disk, digest, cacheKey, inputs, Optional.of(new Base(baseCacheKey, baseDisk)));
  }

  /** The image an image was built on: its cache key and its local raw disk. */
  public record Base(String cacheKey, Path disk) {
    public Base {
      Objects.requireNonNull(cacheKey, "cacheKey");
      Objects.requireNonNull(disk, "disk");
    }
  }
}
