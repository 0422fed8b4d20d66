package dev.kiln.spi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.Platform;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Chooses the image for a platform from an OCI image index or Docker manifest list, as base image
 * readers need: the first entry whose {@code platform} serves the wanted one (an entry without a
 * platform serves any). Stateless.
 */
public final class IndexPlatforms {
  private IndexPlatforms() {}

  /** The descriptor in {@code index.manifests} for {@code wanted}, if the index has one. */
  public static Optional<JsonNode> choose(JsonNode index, Platform wanted) {
    for (JsonNode m : index.path("manifests")) {
      JsonNode p = m.path("platform");
      if (p.isMissingNode() || wanted.accepts(platform(p))) {
        return Optional.of(m);
      }
    }
    return Optional.empty();
  }

  /** The platforms an index offers, for error messages ("offers linux/amd64, linux/s390x"). */
  public static List<String> offered(JsonNode index) {
    List<String> out = new ArrayList<>();
    for (JsonNode m : index.path("manifests")) {
      JsonNode p = m.path("platform");
      out.add(p.isMissingNode() ? "(no platform)" : describe(p));
    }
    return out;
  }

  /** The platform an OCI {@code platform} object (or an image config) names. */
  public static Platform platform(JsonNode p) {
    try {
      return new Platform(
          p.path("os").asText("linux"),
          p.path("architecture").asText(),
          p.path("variant").asText(""));
    } catch (IllegalArgumentException e) {
      return new Platform("unknown", "unknown", "");
    }
  }

  private static String describe(JsonNode p) {
    String v = p.path("variant").asText("");
    return p.path("os").asText("?")
        + "/"
        + p.path("architecture").asText("?")
        + (v.isEmpty() ? "" : "/" + v);
  }
}
