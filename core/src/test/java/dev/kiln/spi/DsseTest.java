package dev.kiln.spi;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.SigningKey;
import dev.kiln.testing.SigningKeys;
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
    SigningKey key = SigningKeys.generate();
    ContentSigner signer =
        new ContentSigner() {
          @Override
          public byte[] sign(byte[] data) throws java.io.IOException {
            signed.set(data);
            return key.sign(data);
          }

          @Override
          public String algorithm() {
            return key.algorithm();
          }

          @Override
          public java.security.PublicKey publicKey() {
            return key.publicKey();
          }
        };
    byte[] env = Dsse.sign(Dsse.IN_TOTO, payload, List.of(signer));
    assertThat(signed.get()).isEqualTo(Dsse.pae(Dsse.IN_TOTO, payload));
    JsonNode n = new ObjectMapper().readTree(env);
    assertThat(n.path("payloadType").asText()).isEqualTo("application/vnd.in-toto+json");
    assertThat(Base64.getDecoder().decode(n.path("payload").asText())).isEqualTo(payload);
    assertThat(n.path("signatures").path(0).path("keyid").asText()).isEqualTo(key.keyId());
    Dsse.Envelope read = Dsse.read(env);
    assertThat(read.payload()).isEqualTo(payload);
    assertThat(SigningKey.verify(key.publicKey(), read.pae(), read.signatures().get(0).sig()))
        .isTrue();
  }

  @Test
  void anEnvelopeThatIsNotOneIsRefusedWithAReason() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> Dsse.read("{\"payload\":1}".getBytes(StandardCharsets.UTF_8)))
        .hasMessageContaining("not a DSSE envelope");
  }
}
