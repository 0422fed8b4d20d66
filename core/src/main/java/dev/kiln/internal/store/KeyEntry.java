package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.Fingerprint;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a cache key maps to in {@code keys/} (and in the remote cache): the layer's diffID, blob
 * digest, size, the size of the uncompressed tar (-1 when unknown: entries written before it was
 * recorded, base layers), media type and inputs.
 */
public record KeyEntry(
    String name,
    String kind,
    Digest diffId,
    Digest digest,
    long size,
    long uncompressedSize,
    String mediaType,
    List<Fingerprint.Input> inputs,
    Map<String, String> metadata) {

  public ObjectNode toJson() {
    ObjectNode n = Json.mapper().createObjectNode();
    n.put("name", name);
    n.put("kind", kind);
    n.put("diffId", diffId.toString());
    n.put("digest", digest.toString());
    n.put("size", size);
    if (uncompressedSize >= 0) {
      n.put("uncompressedSize", uncompressedSize);
    }
    n.put("mediaType", mediaType);
    ArrayNode in = n.putArray("inputs");
    for (Fingerprint.Input i : inputs) {
      in.addObject().put("name", i.name()).put("digest", i.digest().toString());
    }
    ObjectNode md = n.putObject("metadata");
    metadata.forEach(md::put);
    return n;
  }

  public static KeyEntry fromJson(JsonNode n) {
    List<Fingerprint.Input> inputs = new ArrayList<>();
    for (JsonNode i : n.path("inputs")) {
      inputs.add(
          new Fingerprint.Input(i.path("name").asText(), Digest.parse(i.path("digest").asText())));
    }
    Map<String, String> metadata = new TreeMap<>();
    n.path("metadata")
        .fields()
        .forEachRemaining(e -> metadata.put(e.getKey(), e.getValue().asText()));
    return new KeyEntry(
        n.path("name").asText(),
        n.path("kind").asText(),
        Digest.parse(n.path("diffId").asText()),
        Digest.parse(n.path("digest").asText()),
        n.path("size").asLong(),
        n.path("uncompressedSize").asLong(-1),
        n.path("mediaType").asText(),
        inputs,
        metadata);
  }
}
