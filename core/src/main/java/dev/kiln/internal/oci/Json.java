package dev.kiln.internal.oci;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import java.io.IOException;

/**
 * JSON for OCI documents, index.json and records. Documents are built as trees in a fixed field
 * order and written compactly, so the bytes (and digests) depend only on the content.
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

  private static final ObjectMapper MAPPER = new ObjectMapper();

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
