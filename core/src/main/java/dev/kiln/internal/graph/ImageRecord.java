package dev.kiln.internal.graph;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.internal.store.StoredLayer;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The image record of the store ({@code records/<image>.json}, docs/concepts.md): base, layers with
 * keys, digests and named inputs, written once when an image is first baked. Tools and later
 * versions read it, so its JSON keeps this property order, each layer as {@link RecordLayer} says;
 * records of earlier versions lack the keys and uncompressed sizes (read as null and -1). Fields it
 * does not know (the seal) are ignored when read.
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
    List<LayerRecord> layers) {
  static final String SCHEMA = "dev.kiln.record.v1";

  private static final ObjectMapper MAPPER = StoredLayer.mapper(RecordLayer.class);

  /**
   * A layer in the record: every field of the {@link LayerRecord} but the media type (the manifest
   * has it), the metadata only when there is some. The media type is left out when written only, so
   * that it reads as every view reads what a file leaves out.
   */
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
  @JsonIgnoreProperties(value = "mediaType", allowSetters = true, ignoreUnknown = true)
  private interface RecordLayer extends StoredLayer.View {
    @Override
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    Map<String, String> metadata();
  }

  ImageRecord {
    base = Objects.requireNonNullElse(base, "");
    layers = layers == null ? List.of() : List.copyOf(layers);
  }

  ObjectNode toJson() {
    return MAPPER.valueToTree(this);
  }

  static ImageRecord read(byte[] json) throws IOException {
    return MAPPER.readValue(json, ImageRecord.class);
  }
}
