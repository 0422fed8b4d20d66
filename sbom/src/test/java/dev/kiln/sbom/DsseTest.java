package dev.kiln.sbom;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** DSSE v1: the pre-authentication encoding of the spec's example, and the envelope. */
class DsseTest {

  @Test
  void paeIsTheSpecsExample() {
    // https://github.com/secure-systems-lab/dsse/blob/master/protocol.md, "Test case"
    byte[] pae =
        Dsse.pae("http://example.com/HelloWorld", "hello world".getBytes(StandardCharsets.UTF_8));
    assertThat(new String(pae, StandardCharsets.UTF_8))
        .isEqualTo("DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  }

  @Test
  void paeCountsBytesNotCharacters() {
    byte[] pae = Dsse.pae("t/é", "ü".getBytes(StandardCharsets.UTF_8));
    assertThat(new String(pae, StandardCharsets.UTF_8)).isEqualTo("DSSEv1 4 t/é 2 ü");
  }

  @Test
  void theSignerSignsThePaeAndTheEnvelopeCarriesPayloadAndSignature() throws Exception {
    byte[] payload =
        "{\"_type\":\"https://in-toto.io/Statement/v1\"}".getBytes(StandardCharsets.UTF_8);
    AtomicReference<byte[]> signed = new AtomicReference<>();
    Signer signer =
        pae -> {
          signed.set(pae);
          return new Signer.Signature("key-1", new byte[] {1, 2, 3});
        };
    byte[] env = Dsse.sign(Dsse.IN_TOTO, payload, List.of(signer));
    assertThat(signed.get()).isEqualTo(Dsse.pae(Dsse.IN_TOTO, payload));
    JsonNode n = new ObjectMapper().readTree(env);
    assertThat(n.path("payloadType").asText()).isEqualTo("application/vnd.in-toto+json");
    assertThat(Base64.getDecoder().decode(n.path("payload").asText())).isEqualTo(payload);
    assertThat(n.path("signatures").path(0).path("keyid").asText()).isEqualTo("key-1");
    assertThat(n.path("signatures").path(0).path("sig").asText()).isEqualTo("AQID");
  }
}
