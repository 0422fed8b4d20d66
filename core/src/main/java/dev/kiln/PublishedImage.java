package dev.kiln;

import com.google.common.collect.ImmutableSortedMap;
import java.util.Map;

/**
 * What a target holds after a bake: the image digest and store-specific details (an AMI id, a
 * template path, a file). {@code reused} when the target already held the image and nothing was
 * transferred.
 */
public record PublishedImage(
    String target, Digest digest, boolean reused, Map<String, String> details) {
  public PublishedImage {
    details = ImmutableSortedMap.copyOf(details);
  }

  public PublishedImage asReused() {
    return new PublishedImage(target, digest, true, details);
  }
}
