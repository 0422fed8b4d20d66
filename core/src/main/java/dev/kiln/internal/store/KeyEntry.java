package dev.kiln.internal.store;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.spi.Fingerprint;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a cache key maps to in {@code keys/} (and in the remote cache): a {@link LayerRecord}
 * without the key, which names the file (or the remote entry) instead. Its diffID and digest are
 * known, and so is every input's name and digest.
 *
 * <p>Its JSON is the store's and the remote cache's format, read by every version: the record's
 * properties but the key, in the order {@link KeyFile} names, read and written as {@link
 * StoredLayer.View} says. Fields it does not know (the seal, fields of later versions) are ignored
 * when read.
 */
public record KeyEntry(LayerRecord layer) {
  private static final ObjectMapper MAPPER = StoredLayer.mapper(KeyFile.class);

  /** A layer in {@code keys/}: every field of the record but the key. */
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
  @JsonIgnoreProperties(value = "key", ignoreUnknown = true)
  private interface KeyFile extends StoredLayer.View {}

  public KeyEntry {
    if (layer.key() != null) {
      throw new IllegalArgumentException("a key entry's layer has no key: the key names the entry");
    }
    Objects.requireNonNull(layer.diffId(), "diffId");
    Objects.requireNonNull(layer.digest(), "digest");
    for (Fingerprint.Input i : layer.inputs()) {
      Objects.requireNonNull(i.name(), "the name of an input");
      Objects.requireNonNull(i.digest(), "the digest of an input");
    }
  }

  public String name() {
    return layer.name();
  }

  public String kind() {
    return layer.kind();
  }

  public Digest diffId() {
    return layer.diffId();
  }

  public Digest digest() {
    return layer.digest();
  }

  public long size() {
    return layer.size();
  }

  public long uncompressedSize() {
    return layer.uncompressedSize();
  }

  public String mediaType() {
    return layer.mediaType();
  }

  public List<Fingerprint.Input> inputs() {
    return layer.inputs();
  }

  public Map<String, String> metadata() {
    return layer.metadata();
  }

  public ObjectNode toJson() {
    return MAPPER.valueToTree(layer);
  }

  /**
   * Reads an entry; throws when it is not a JSON object, lacks a digest or diffID, names an input
   * without its name or digest, or a field has the wrong type.
   */
  public static KeyEntry fromJson(JsonNode n) throws IOException {
    if (n == null || !n.isObject()) {
      throw new IOException(
          "a key entry is a JSON object, found " + (n == null ? "nothing" : n.getNodeType()));
    }
    LayerRecord layer = MAPPER.treeToValue(n, LayerRecord.class);
    try {
      return new KeyEntry(layer);
    } catch (RuntimeException e) {
      throw new IOException("not a key entry: " + e.getMessage(), e);
    }
  }
}
