package dev.kiln.docker;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The JSON documents this module writes (OCI descriptors, indexes and artifact manifests, the
 * docker-archive manifest), as records with a fixed property order: the bytes are what registries
 * and daemons hash and compare, so they must not depend on how a map was filled.
 */
final class OciJson {
  private static final ObjectMapper JSON = new ObjectMapper();

  private OciJson() {}

  /** The document as compact JSON. */
  static byte[] write(Object document) throws IOException {
    return JSON.writeValueAsBytes(document);
  }

  /** An OCI content descriptor; annotations only when there are some. */
  @JsonPropertyOrder({"mediaType", "digest", "size", "annotations"})
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record Descriptor(String mediaType, String digest, long size, Map<String, String> annotations) {
    Descriptor(String mediaType, Digest digest, long size) {
      this(mediaType, digest.toString(), size, null);
    }
  }

  /** An OCI image index. */
  @JsonPropertyOrder({"schemaVersion", "mediaType", "manifests"})
  record Index(int schemaVersion, String mediaType, List<Descriptor> manifests) {}

  /** An OCI artifact manifest: one config, layers, annotations (in the order given). */
  @JsonPropertyOrder({
    "schemaVersion",
    "mediaType",
    "artifactType",
    "config",
    "layers",
    "annotations"
  })
  record ArtifactManifest(
      int schemaVersion,
      String mediaType,
      String artifactType,
      Descriptor config,
      List<Descriptor> layers,
      Map<String, String> annotations) {}

  /** One image of a docker-archive's {@code manifest.json}. */
  @JsonPropertyOrder({"Config", "RepoTags", "Layers"})
  record ArchiveImage(
      @JsonProperty("Config") String config,
      @JsonProperty("RepoTags") List<String> repoTags,
      @JsonProperty("Layers") List<String> layers) {}
}
