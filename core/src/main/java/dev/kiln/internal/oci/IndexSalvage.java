package dev.kiln.internal.oci;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.kiln.Digest;
import java.io.IOException;

/**
 * What can be kept of a damaged {@code index.json} of an OCI layout (a truncated write, a hand
 * edit): the complete manifest descriptors it holds before it stops being valid JSON. Stateless.
 */
final class IndexSalvage {
  private IndexSalvage() {}

  /**
   * The complete manifest descriptors at the start of a damaged index, up to where it stops being
   * valid JSON.
   */
  static ArrayNode salvage(byte[] index) {
    ArrayNode out = Json.mapper().createArrayNode();
    try (JsonParser p = Json.mapper().getFactory().createParser(index)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return out;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.getCurrentName();
        JsonToken value = p.nextToken();
        if (!"manifests".equals(field) || value != JsonToken.START_ARRAY) {
          p.skipChildren();
          continue;
        }
        while (p.nextToken() == JsonToken.START_OBJECT) {
          JsonNode m = Json.mapper().readTree(p);
          if (m.path("mediaType").isTextual()
              && m.path("size").canConvertToLong()
              && validDigest(m.path("digest").asText())) {
            out.add(m);
          }
        }
        return out;
      }
    } catch (IOException | RuntimeException e) {
      // the rest is lost; what was complete before it is kept
    }
    return out;
  }

  private static boolean validDigest(String s) {
    try {
      Digest.parse(s);
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }
}
