package dev.kiln.internal.store;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.Fingerprint;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What a cache key maps to in {@code keys/} (and in the remote cache): the layer's diffID, blob
 * digest, size, the size of the uncompressed tar (-1 when unknown: entries written before it was
 * recorded, base layers), media type and inputs. It is a {@link dev.kiln.LayerRecord} without the
 * key, which names the file (or the remote entry) instead.
 *
 * <p>Its JSON is the store's and the remote cache's format, read by every version: the properties
 * in this order, the uncompressed size left out when unknown, the metadata sorted by name. Fields
 * it does not know (the seal, fields of later versions) are ignored when read.
 */
@JsonPropertyOrder({
  "name",
  "kind",
  "diffId",
  "digest",
  "size",
  "uncompressedSize",
  "mediaType",
  "inputs",
  "metadata"
})
@JsonIgnoreProperties(ignoreUnknown = true)
public record KeyEntry(
    String name,
    String kind,
    Digest diffId,
    Digest digest,
    long size,
    @JsonInclude(value = JsonInclude.Include.CUSTOM, valueFilter = Json.OmitNegative.class)
        long uncompressedSize,
    String mediaType,
    List<Fingerprint.Input> inputs,
    Map<String, String> metadata) {

  public KeyEntry {
    Objects.requireNonNull(diffId, "diffId");
    Objects.requireNonNull(digest, "digest");
    name = Objects.requireNonNullElse(name, "");
    kind = Objects.requireNonNullElse(kind, "");
    mediaType = Objects.requireNonNullElse(mediaType, "");
    inputs = inputs == null ? List.of() : inputs;
    for (Fingerprint.Input i : inputs) {
      Objects.requireNonNull(i, "an input");
      Objects.requireNonNull(i.name(), "the name of an input");
      Objects.requireNonNull(i.digest(), "the digest of an input");
    }
    metadata = metadata == null ? Map.of() : metadata;
    metadata.forEach((k, v) -> Objects.requireNonNull(v, "metadata " + k));
  }

  /** As read: an entry without an uncompressed size has an unknown one, its metadata sorted. */
  @JsonCreator
  static KeyEntry read(
      @JsonProperty("name") String name,
      @JsonProperty("kind") String kind,
      @JsonProperty(value = "diffId", required = true) Digest diffId,
      @JsonProperty(value = "digest", required = true) Digest digest,
      @JsonProperty("size") long size,
      @JsonProperty("uncompressedSize") Long uncompressedSize,
      @JsonProperty("mediaType") String mediaType,
      @JsonProperty("inputs") List<Fingerprint.Input> inputs,
      @JsonProperty("metadata") Map<String, String> metadata) {
    return new KeyEntry(
        name,
        kind,
        diffId,
        digest,
        size,
        uncompressedSize == null ? -1 : uncompressedSize,
        mediaType,
        inputs,
        metadata == null ? null : new TreeMap<>(metadata));
  }

  public ObjectNode toJson() {
    return Json.mapper().valueToTree(this);
  }

  /**
   * Reads an entry; throws when it is not a JSON object, lacks a digest or diffID or a field has
   * the wrong type.
   */
  public static KeyEntry fromJson(JsonNode n) throws IOException {
    if (n == null || !n.isObject()) {
      throw new IOException(
          "a key entry is a JSON object, found " + (n == null ? "nothing" : n.getNodeType()));
    }
    return Json.mapper().treeToValue(n, KeyEntry.class);
  }
}
