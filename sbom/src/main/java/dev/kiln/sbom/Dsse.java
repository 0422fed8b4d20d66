package dev.kiln.sbom;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The Dead Simple Signing Envelope (DSSE v1) of a payload, such as the provenance statement: the
 * pre-authentication encoding a signature covers, and the JSON envelope that carries the payload
 * with its signatures.
 */
public final class Dsse {
  /** The payload type of an in-toto statement. */
  public static final String IN_TOTO = "application/vnd.in-toto+json";

  private static final ObjectMapper JSON = new ObjectMapper();

  private Dsse() {}

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
  public static byte[] envelope(
      String payloadType, byte[] payload, List<Signer.Signature> signatures) {
    ObjectNode env = JSON.createObjectNode();
    env.put("payloadType", payloadType);
    env.put("payload", Base64.getEncoder().encodeToString(payload));
    ArrayNode sigs = env.putArray("signatures");
    for (Signer.Signature s : signatures) {
      ObjectNode o = sigs.addObject();
      if (!s.keyId().isEmpty()) {
        o.put("keyid", s.keyId());
      }
      o.put("sig", Base64.getEncoder().encodeToString(s.sig()));
    }
    try {
      return JSON.writeValueAsBytes(env);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Signs the payload with each signer and returns the envelope. */
  public static byte[] sign(String payloadType, byte[] payload, List<Signer> signers)
      throws IOException {
    byte[] pae = pae(payloadType, payload);
    List<Signer.Signature> sigs = new ArrayList<>();
    for (Signer s : signers) {
      sigs.add(s.sign(pae));
    }
    return envelope(payloadType, payload, sigs);
  }
}
