package dev.kiln.spi;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Attestation;
import dev.kiln.Digest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The formats cosign and OCI 1.1 referrers use to attach signatures and attestations to an image,
 * written and read by every target that holds them (a registry, an OCI layout) and by {@code
 * Kiln.verify}:
 *
 * <ul>
 *   <li>the signature: an OCI manifest tagged {@code sha256-<hex>.sig} whose layers are "simple
 *       signing" payloads ({@value #SIMPLE_SIGNING}) naming the repository and the manifest digest,
 *       each with its base64 DER signature in the annotation {@value #SIGNATURE};
 *   <li>the attestations: an OCI manifest tagged {@code sha256-<hex>.att} whose layers are DSSE
 *       envelopes ({@value Dsse#MEDIA_TYPE}) of in-toto statements, each annotated with its {@code
 *       predicateType};
 *   <li>both manifests carry the image as their {@code subject} and an {@code artifactType}, so
 *       they are also the image's OCI 1.1 referrers; where a registry has no referrers API, the tag
 *       {@code sha256-<hex>} holds the index of them (the referrers tag schema).
 * </ul>
 *
 * Everything here is written in a fixed order, so the same input gives the same bytes.
 */
public final class Cosign {
  /** The media type of a simple signing payload layer. */
  public static final String SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";

  /** The annotation of a signature layer that holds the base64 DER signature of its payload. */
  public static final String SIGNATURE = "dev.cosignproject.cosign/signature";

  /** The annotation of an attestation layer that names its statement's predicate type. */
  public static final String PREDICATE_TYPE = "predicateType";

  /** The artifact type of a signature manifest (as a referrer). */
  public static final String SIGNATURE_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json";

  /** The artifact type of an attestation manifest (as a referrer). */
  public static final String ATTESTATION_ARTIFACT = Dsse.MEDIA_TYPE;

  /** The type of a simple signing payload. */
  public static final String PAYLOAD_TYPE = "cosign container image signature";

  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";

  /** The in-toto statement type. */
  public static final String STATEMENT = "https://in-toto.io/Statement/v1";

  private static final ObjectMapper JSON = new ObjectMapper();

  private Cosign() {}

  /** {@code sha256-<hex>.sig}: the tag of an image's signature manifest. */
  public static String signatureTag(Digest image) {
    return "sha256-" + image.hex() + ".sig";
  }

  /** {@code sha256-<hex>.att}: the tag of an image's attestation manifest. */
  public static String attestationTag(Digest image) {
    return "sha256-" + image.hex() + ".att";
  }

  /** {@code sha256-<hex>}: the tag of the referrers index where a registry has no referrers API. */
  public static String referrersTag(Digest image) {
    return "sha256-" + image.hex();
  }

  /**
   * The predicate type of a document as an attestation: SLSA provenance v1 (the provenance is a
   * statement already), SPDX, CycloneDX (cosign's {@code --type spdxjson} and {@code cyclonedx}).
   */
  public static String predicateType(Attestation.Kind kind) {
    return switch (kind) {
      case PROVENANCE -> "https://slsa.dev/provenance/v1";
      case SPDX -> "https://spdx.dev/Document";
      case CYCLONEDX -> "https://cyclonedx.org/bom";
    };
  }

  /**
   * The simple signing payload that a signature of {@code manifest} in {@code repository} covers:
   * {@code {"critical":{"identity":{"docker-reference":REPO},"image":{"docker-manifest-digest":
   * "sha256:…"},"type":"cosign container image signature"},"optional":null}}.
   */
  public static byte[] payload(String repository, Digest manifest) {
    ObjectNode root = JSON.createObjectNode();
    ObjectNode critical = root.putObject("critical");
    critical.putObject("identity").put("docker-reference", repository);
    critical.putObject("image").put("docker-manifest-digest", manifest.toString());
    critical.put("type", PAYLOAD_TYPE);
    root.putNull("optional");
    return bytes(root);
  }

  /** What a simple signing payload says: the repository and the manifest digest it signs. */
  public record Payload(String repository, Digest manifest) {}

  /** Reads a simple signing payload; an IOException says what is wrong with it. */
  public static Payload readPayload(byte[] payload) throws IOException {
    JsonNode n = JSON.readTree(payload);
    JsonNode c = n == null ? null : n.path("critical");
    if (c == null || !PAYLOAD_TYPE.equals(c.path("type").asText())) {
      throw new IOException("not a cosign signature payload (critical.type)");
    }
    try {
      return new Payload(
          c.path("identity").path("docker-reference").asText(),
          Digest.parse(c.path("image").path("docker-manifest-digest").asText()));
    } catch (IllegalArgumentException e) {
      throw new IOException("a cosign payload without a manifest digest: " + e.getMessage(), e);
    }
  }

  /**
   * An in-toto statement v1 about {@code subject} whose predicate is {@code predicate} byte for
   * byte (a JSON object), so its digest can be checked again ({@link #predicate}).
   */
  public static byte[] statement(Digest subject, String predicateType, byte[] predicate) {
    ObjectNode head = JSON.createObjectNode();
    head.put("_type", STATEMENT);
    ObjectNode s = head.putArray("subject").addObject();
    s.put("name", "image");
    s.putObject("digest").put("sha256", subject.hex());
    head.put("predicateType", predicateType);
    byte[] h = bytes(head);
    ByteArrayOutputStream out = new ByteArrayOutputStream(h.length + predicate.length + 16);
    out.write(h, 0, h.length - 1);
    out.writeBytes(",\"predicate\":".getBytes(StandardCharsets.UTF_8));
    out.writeBytes(predicate);
    out.write('}');
    return out.toByteArray();
  }

  /** The bytes of a statement's {@code predicate} value as they are in it; empty when none. */
  public static Optional<byte[]> predicate(byte[] statement) throws IOException {
    try (JsonParser p = JSON.getFactory().createParser(statement)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return Optional.empty();
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (name.equals("predicate")
            && (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY)) {
          long start = p.currentTokenLocation().getByteOffset();
          p.skipChildren();
          long end = p.currentLocation().getByteOffset();
          return Optional.of(Arrays.copyOfRange(statement, (int) start, (int) end));
        }
        p.skipChildren();
      }
      return Optional.empty();
    }
  }

  /** The sha256 digests of a statement's subjects. */
  public static List<Digest> subjects(JsonNode statement) {
    List<Digest> out = new ArrayList<>();
    for (JsonNode s : statement.path("subject")) {
      String hex = s.path("digest").path("sha256").asText("");
      if (hex.matches("[0-9a-f]{64}")) {
        out.add(new Digest(hex));
      }
    }
    return out;
  }

  private static byte[] bytes(JsonNode n) {
    try {
      return JSON.writeValueAsBytes(n);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
