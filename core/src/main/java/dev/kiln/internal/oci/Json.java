package dev.kiln.internal.oci;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.std.FromStringDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import dev.kiln.Digest;
import dev.kiln.spi.Fingerprint;
import java.io.IOException;

/**
 * JSON for OCI documents, index.json and records. The store's plain values (key entries, image and
 * publication records) are records with a fixed property order that {@link #mapper()} writes; OCI
 * documents, whose bytes define digests, are built as trees in a fixed field order. Both are
 * written compactly, so the bytes (and digests) depend only on the content. {@link #mapper()}
 * writes a {@link Digest} as {@code sha256:<hex>} and reads it back with {@link Digest#parse}.
 */
public final class Json {
  public static final String REF_NAME = "org.opencontainers.image.ref.name";
  public static final String MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
  public static final String INDEX_TYPE = "application/vnd.oci.image.index.v1+json";
  public static final String CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
  public static final String DOCKER_MANIFEST_TYPE =
      "application/vnd.docker.distribution.manifest.v2+json";
  public static final String DOCKER_LIST_TYPE =
      "application/vnd.docker.distribution.manifest.list.v2+json";

  private static final ObjectMapper MAPPER =
      new ObjectMapper()
          .addMixIn(Fingerprint.Input.class, InputOrder.class)
          .registerModule(
              new SimpleModule("kiln-values")
                  .addSerializer(Digest.class, ToStringSerializer.instance)
                  .addDeserializer(Digest.class, new DigestDeserializer()));

  /** A named input as {@code {"name":…,"digest":…}}. */
  @JsonPropertyOrder({"name", "digest"})
  private interface InputOrder {}

  private static final class DigestDeserializer extends FromStringDeserializer<Digest> {
    DigestDeserializer() {
      super(Digest.class);
    }

    @Override
    protected Digest _deserialize(
        String value, com.fasterxml.jackson.databind.DeserializationContext ctx) {
      return Digest.parse(value);
    }
  }

  /**
   * A {@code valueFilter} of {@code @JsonInclude(CUSTOM)} that leaves out a negative number: a size
   * recorded as -1 when it is unknown is not written.
   */
  public static final class OmitNegative {
    @Override
    public boolean equals(Object value) {
      return value instanceof Number n && n.longValue() < 0;
    }

    @Override
    public int hashCode() {
      return 0;
    }
  }

  private Json() {}

  public static ObjectMapper mapper() {
    return MAPPER;
  }

  public static ObjectNode object() {
    return MAPPER.createObjectNode();
  }

  public static byte[] bytes(JsonNode node) {
    try {
      return MAPPER.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  public static JsonNode read(byte[] bytes) throws IOException {
    return MAPPER.readTree(bytes);
  }

  public static ObjectNode emptyIndex() {
    ObjectNode n = object();
    n.put("schemaVersion", 2);
    n.put("mediaType", INDEX_TYPE);
    n.putArray("manifests");
    return n;
  }

  public static ObjectNode descriptor(String mediaType, Digest digest, long size) {
    ObjectNode n = object();
    n.put("mediaType", mediaType);
    n.put("digest", digest.toString());
    n.put("size", size);
    return n;
  }

  public static ObjectNode manifestDescriptor(Digest digest, long size, String refName) {
    ObjectNode n = descriptor(MANIFEST_TYPE, digest, size);
    if (refName != null) {
      n.putObject("annotations").put(REF_NAME, refName);
    }
    return n;
  }
}
