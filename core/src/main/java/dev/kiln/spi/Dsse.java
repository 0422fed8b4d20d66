package dev.kiln.spi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;

/**
 * The Dead Simple Signing Envelope (DSSE v1) of a payload, such as an in-toto statement: the
 * pre-authentication encoding (PAE) a signature covers, and the JSON envelope that carries the
 * payload with its signatures, the form {@code cosign attest}, {@code cosign verify-attestation}
 * and {@code slsa-verifier} read. Signatures are made by a {@link ContentSigner}.
 */
public final class Dsse {
  /** The payload type of an in-toto statement. */
  public static final String IN_TOTO = "application/vnd.in-toto+json";

  /** The media type of an envelope as a blob (an OCI layer). */
  public static final String MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json";

  private static final ObjectMapper JSON = new ObjectMapper();

  private Dsse() {}

  /** One signature of an envelope: the key id a verifier looks the key up by (may be empty). */
  public record Signature(String keyId, byte[] sig) {
    public Signature {
      Objects.requireNonNull(keyId, "keyId");
      sig = sig.clone();
    }

    @Override
    public byte[] sig() {
      return sig.clone();
    }
  }

  /** An envelope as read: its payload type, payload and signatures. */
  public record Envelope(String payloadType, byte[] payload, List<Signature> signatures) {
    public Envelope {
      payload = payload.clone();
      signatures = List.copyOf(signatures);
    }

    @Override
    public byte[] payload() {
      return payload.clone();
    }

    /** The bytes each signature covers. */
    public byte[] pae() {
      return Dsse.pae(payloadType, payload);
    }
  }

  /**
   * PAE(type, body) = {@code "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body}, where LEN is the
   * length in bytes, in ASCII decimal, and {@code type} is UTF-8: what a signer signs.
   */
  public static byte[] pae(String payloadType, byte[] payload) {
    byte[] type = payloadType.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length + type.length + 32);
    out.writeBytes(("DSSEv1 " + type.length + " ").getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(type);
    out.writeBytes((" " + payload.length + " ").getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(payload);
    return out.toByteArray();
  }

  /** The envelope JSON: payloadType, payload (base64) and the signatures (key id, base64). */
  public static byte[] envelope(String payloadType, byte[] payload, List<Signature> signatures) {
    ObjectNode env = JSON.createObjectNode();
    env.put("payloadType", payloadType);
    env.put("payload", Base64.getEncoder().encodeToString(payload));
    ArrayNode sigs = env.putArray("signatures");
    for (Signature s : signatures) {
      ObjectNode o = sigs.addObject();
      o.put("keyid", s.keyId());
      o.put("sig", Base64.getEncoder().encodeToString(s.sig()));
    }
    try {
      return JSON.writeValueAsBytes(env);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Signs the payload's PAE with each signer and returns the envelope. */
  public static byte[] sign(String payloadType, byte[] payload, List<ContentSigner> signers)
      throws IOException {
    byte[] pae = pae(payloadType, payload);
    List<Signature> sigs = new ArrayList<>();
    for (ContentSigner s : signers) {
      sigs.add(new Signature(s.keyId(), s.sign(pae)));
    }
    return envelope(payloadType, payload, sigs);
  }

  /** Reads an envelope; an IOException says what is wrong with it. */
  public static Envelope read(byte[] envelope) throws IOException {
    JsonNode n;
    try {
      n = JSON.readTree(envelope);
    } catch (IOException e) {
      throw new IOException("not a DSSE envelope (no JSON): " + e.getMessage(), e);
    }
    if (n == null
        || !n.path("payloadType").isTextual()
        || !n.path("payload").isTextual()
        || !n.path("signatures").isArray()) {
      throw new IOException("not a DSSE envelope (payloadType, payload, signatures)");
    }
    try {
      List<Signature> sigs = new ArrayList<>();
      for (JsonNode s : n.path("signatures")) {
        sigs.add(
            new Signature(
                s.path("keyid").asText(""), Base64.getDecoder().decode(s.path("sig").asText())));
      }
      return new Envelope(
          n.path("payloadType").asText(),
          Base64.getDecoder().decode(n.path("payload").asText()),
          sigs);
    } catch (IllegalArgumentException e) {
      throw new IOException("a DSSE envelope with bad base64: " + e.getMessage(), e);
    }
  }
}
