package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.Dsse;
import dev.kiln.testing.Openssl;
import dev.kiln.testing.SigningKeys;
import dev.kiln.testing.Tools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A signed bake to an {@code oci:} layout: the signature and attestation manifests are blobs of the
 * layout named in index.json, openssl verifies them, skopeo copies them to another layout with the
 * image, and {@code Kiln.verify} accepts the copy and tells a wrong key.
 */
class SignedLayoutTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  /** An SBOM and a provenance that lists it as a byproduct, as the sbom module writes them. */
  private static final Attestor ATTESTOR =
      ctx -> {
        byte[] spdx =
            ("{\"spdxVersion\":\"SPDX-2.3\",\"name\":\"" + ctx.image().digest() + "\"}")
                .getBytes(StandardCharsets.UTF_8);
        byte[] prov =
            ("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"image\","
                    + "\"digest\":{\"sha256\":\""
                    + ctx.image().digest().hex()
                    + "\"}}],\"predicateType\":\"https://slsa.dev/provenance/v1\",\"predicate\":"
                    + "{\"runDetails\":{\"byproducts\":[{\"digest\":{\"sha256\":\""
                    + Digest.of(spdx).hex()
                    + "\"}}]}}}")
                .getBytes(StandardCharsets.UTF_8);
        return List.of(
            Attestation.of(Attestation.Kind.SPDX, spdx),
            Attestation.of(Attestation.Kind.PROVENANCE, prov));
      };

  private static ImageBuild build() {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("app").content("/etc/app", "x".getBytes(StandardCharsets.UTF_8), 0644));
  }

  private byte[] tagged(Path layout, String name) throws Exception {
    for (JsonNode m : JSON.readTree(layout.resolve("index.json").toFile()).path("manifests")) {
      if (name.equals(m.path("annotations").path("org.opencontainers.image.ref.name").asText())) {
        return blob(layout, m.path("digest").asText());
      }
    }
    throw new AssertionError(name + " is not in " + layout.resolve("index.json"));
  }

  private static byte[] blob(Path layout, String digest) throws Exception {
    return Files.readAllBytes(layout.resolve("blobs/sha256").resolve(digest.substring(7)));
  }

  @Test
  void theLayoutHoldsSignatureAndAttestationsThatToolsReadAndCarry() throws Exception {
    SigningKey key = SigningKeys.write(tmp.resolve("key.pem"));
    Path pub = tmp.resolve("pub.pem");
    Files.writeString(pub, SigningKey.toPem(key.publicKey()));
    Path layout = tmp.resolve("layout");
    BakeResult r;
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp.resolve("store"))
            .attestor(ATTESTOR)
            .sbom(Attestation.Kind.SPDX)
            .provenance(true)
            .signWith(key)
            .build()) {
      r = kiln.bake(build(), "oci:" + layout + ":1");
      // a rebake leaves the signature as it is
      byte[] sig = tagged(layout, Cosign.signatureTag(r.digest()));
      kiln.bake(build(), "oci:" + layout + ":1");
      assertThat(tagged(layout, Cosign.signatureTag(r.digest()))).isEqualTo(sig);
    }

    byte[] sig = tagged(layout, Cosign.signatureTag(r.digest()));
    JsonNode sm = JSON.readTree(sig);
    assertThat(sm.path("subject").path("digest").asText()).isEqualTo(r.digest().toString());
    JsonNode layer = sm.path("layers").path(0);
    byte[] payload = blob(layout, layer.path("digest").asText());
    assertThat(Cosign.readPayload(payload).manifest()).isEqualTo(r.digest());
    Openssl.assertVerifies(
        pub,
        payload,
        Base64.getDecoder().decode(layer.path("annotations").path(Cosign.SIGNATURE).asText()),
        tmp);
    List<String> types = new ArrayList<>();
    for (JsonNode l :
        JSON.readTree(tagged(layout, Cosign.attestationTag(r.digest()))).path("layers")) {
      types.add(l.path("annotations").path(Cosign.PREDICATE_TYPE).asText());
      Dsse.Envelope env = Dsse.read(blob(layout, l.path("digest").asText()));
      Openssl.assertVerifies(pub, env.pae(), env.signatures().get(0).sig(), tmp);
    }
    assertThat(types).hasSize(2);

    // skopeo carries the image and both manifests to another layout, where they still verify
    String skopeo = Tools.require("skopeo", "skopeo");
    Path copy = tmp.resolve("copy");
    for (String name :
        List.of("1", Cosign.signatureTag(r.digest()), Cosign.attestationTag(r.digest()))) {
      Tools.run(skopeo, "copy", "oci:" + layout + ":" + name, "oci:" + copy + ":" + name).ok();
    }
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      VerifyResult v = kiln.verify("oci:" + copy + ":1", key.publicKey());
      assertThat(v.verified()).as(v.toString()).isTrue();
      assertThat(v.checks()).hasSize(4); // signature, SBOM, provenance, SBOM in the provenance
      VerifyResult wrong = kiln.verify("oci:" + copy + ":1", SigningKeys.generate().publicKey());
      assertThat(wrong.verified()).isFalse();
      assertThat(wrong.problems().get(0).message()).contains("do not verify with the key given");
    }
  }
}
