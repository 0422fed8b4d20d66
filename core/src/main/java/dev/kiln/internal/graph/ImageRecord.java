package dev.kiln.internal.graph;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.Fingerprint;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The image record of the store ({@code records/<image>.json}, docs/concepts.md): base, layers with
 * keys, digests and named inputs, written once when an image is first baked. Tools and later
 * versions read it, so its JSON keeps this property order; records of earlier versions lack the
 * keys and uncompressed sizes (read as null and -1). Fields it does not know (the seal) are ignored
 * when read.
 */
@JsonPropertyOrder({"schema", "image", "config", "key", "base", "firstBaked", "layers"})
@JsonIgnoreProperties(ignoreUnknown = true)
record ImageRecord(
    String schema,
    Digest image,
    Digest config,
    Digest key,
    String base,
    String firstBaked,
    List<Layer> layers) {
  static final String SCHEMA = "dev.kiln.record.v1";

  ImageRecord {
    base = Objects.requireNonNullElse(base, "");
    layers = layers == null ? List.of() : List.copyOf(layers);
  }

  /** One layer: a {@link LayerRecord} without its media type, metadata only when there is some. */
  @JsonPropertyOrder({
    "name",
    "kind",
    "key",
    "diffId",
    "digest",
    "size",
    "uncompressedSize",
    "inputs",
    "metadata"
  })
  @JsonIgnoreProperties(ignoreUnknown = true)
  record Layer(
      String name,
      String kind,
      Digest key,
      Digest diffId,
      Digest digest,
      long size,
      @JsonInclude(value = JsonInclude.Include.CUSTOM, valueFilter = Json.OmitNegative.class)
          long uncompressedSize,
      List<Fingerprint.Input> inputs,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, String> metadata) {

    Layer {
      name = Objects.requireNonNullElse(name, "");
      kind = Objects.requireNonNullElse(kind, "");
      inputs = inputs == null ? List.of() : inputs;
      metadata = metadata == null ? Map.of() : metadata;
    }

    /**
     * As read: a layer without an uncompressed size (recorded before it was) has an unknown one.
     */
    @JsonCreator
    static Layer read(
        @JsonProperty("name") String name,
        @JsonProperty("kind") String kind,
        @JsonProperty("key") Digest key,
        @JsonProperty("diffId") Digest diffId,
        @JsonProperty("digest") Digest digest,
        @JsonProperty("size") long size,
        @JsonProperty("uncompressedSize") Long uncompressedSize,
        @JsonProperty("inputs") List<Fingerprint.Input> inputs,
        @JsonProperty("metadata") Map<String, String> metadata) {
      return new Layer(
          name,
          kind,
          key,
          diffId,
          digest,
          size,
          uncompressedSize == null ? -1 : uncompressedSize,
          inputs,
          metadata);
    }

    static Layer of(LayerRecord l) {
      return new Layer(
          l.name(),
          l.kind(),
          l.key(),
          l.diffId(),
          l.digest(),
          l.size(),
          l.uncompressedSize(),
          l.inputs(),
          l.metadata());
    }
  }
}
