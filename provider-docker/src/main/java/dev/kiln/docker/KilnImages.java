package dev.kiln.docker;

import dev.kiln.BakeResult;
import dev.kiln.PublishedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Names of baked images as container tools take them, for tests that start a baked image, e.g. with
 * Testcontainers:
 *
 * <pre>{@code
 * BakeResult r = kiln.bake(build, "docker-daemon:app:test");
 * try (GenericContainer<?> app = new GenericContainer<>(KilnImages.dockerImageName(r)).withExposedPorts(8080)) {
 *   app.start();
 * }
 * }</pre>
 *
 * The image is already in the daemon, so nothing is pulled. Thread-safe (stateless).
 */
public final class KilnImages {
  private KilnImages() {}

  /**
   * The {@code NAME:TAG} the result was published under to a {@code docker-daemon:} target (the
   * first, if several).
   *
   * @throws IllegalArgumentException if the result was not published to the Docker daemon
   */
  public static String dockerImageName(BakeResult result) {
    List<String> targets = new ArrayList<>();
    for (var e : result.published().entrySet()) {
      PublishedImage p = e.getValue();
      targets.add(e.getKey());
      if (e.getKey().startsWith("docker-daemon:")) {
        String name = p.details().get("name");
        return name != null ? name : e.getKey().substring("docker-daemon:".length());
      }
    }
    throw new IllegalArgumentException(
        "image "
            + result.digest()
            + " was not published to the Docker daemon (targets: "
            + targets
            + "): bake it with a docker-daemon:NAME:TAG target");
  }

  /**
   * The image id the Docker daemon gives the image (its config digest), also for images not tagged.
   */
  public static String dockerImageId(BakeResult result) {
    return result.configDigest().toString();
  }
}
