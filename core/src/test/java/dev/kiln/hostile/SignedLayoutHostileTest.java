package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.SigningKey;
import dev.kiln.VerifyResult;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.CosignManifests;
import dev.kiln.testing.SigningKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Signature manifests in an OCI layout that are not what Kiln wrote: a payload that is no cosign
 * payload and a signature that is no base64, an attestation that is no envelope, a signature blob
 * changed in place. Verify reports each as a failed check; a signed rebake refuses a layout whose
 * signature blob does not match its digest, naming it, and changes nothing there.
 */
class SignedLayoutHostileTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;
  private SigningKey key;
  private Path layout;
  private BakeResult baked;

  private static ImageBuild build() {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("app").content("/etc/app", "x".getBytes(StandardCharsets.UTF_8), 0644));
  }

  private Kiln kiln() throws Exception {
    return Kiln.builder().store(tmp.resolve("store")).signWith(key).build();
  }

  @BeforeEach
  void signedLayout() throws Exception {
    key = SigningKeys.generate();
    layout = tmp.resolve("layout");
    try (Kiln k = kiln()) {
      baked = k.bake(build(), "oci:" + layout + ":1");
    }
  }

  private VerifyResult verify() throws Exception {
    try (Kiln k = kiln()) {
      return k.verify("oci:" + layout + ":1", key.publicKey());
    }
  }

  /** Points {@code name} in index.json at a manifest with these layers, about the image. */
  private void replace(String name, String artifactType, List<CosignManifests.Layer> layers)
      throws Exception {
    CosignManifests.Artifact art =
        CosignManifests.artifact(
            artifactType,
            layers,
            new CosignManifests.Descriptor(
                Cosign.OCI_MANIFEST, baked.digest(), Files.size(blob(baked.digest())), null));
    for (CosignManifests.Layer l : layers) {
      Files.write(blob(l.digest()), l.content());
    }
    Files.write(blob(Digest.of(art.config())), art.config());
    Files.write(blob(art.digest()), art.manifest());
    ObjectNode index = (ObjectNode) JSON.readTree(layout.resolve("index.json").toFile());
    for (JsonNode m : index.path("manifests")) {
      if (name.equals(m.path("annotations").path("org.opencontainers.image.ref.name").asText())) {
        ((ObjectNode) m).put("digest", art.digest().toString());
        ((ObjectNode) m).put("size", art.manifest().length);
      }
    }
    Files.write(layout.resolve("index.json"), JSON.writeValueAsBytes(index));
  }

  private Path blob(Digest d) {
    return layout.resolve("blobs/sha256").resolve(d.hex());
  }

  private String tagged(String name) throws Exception {
    for (JsonNode m : JSON.readTree(layout.resolve("index.json").toFile()).path("manifests")) {
      if (name.equals(m.path("annotations").path("org.opencontainers.image.ref.name").asText())) {
        return m.path("digest").asText();
      }
    }
    return null;
  }

  @Test
  void aPayloadThatIsNoCosignPayloadAndASignatureThatIsNoBase64AreFailedChecks() throws Exception {
    assertThat(verify().verified()).isTrue();
    replace(
        Cosign.signatureTag(baked.digest()),
        Cosign.SIGNATURE_ARTIFACT,
        List.of(
            new CosignManifests.Layer(
                Cosign.SIMPLE_SIGNING,
                "not json {".getBytes(StandardCharsets.UTF_8),
                Map.of(Cosign.SIGNATURE, "AAA")),
            new CosignManifests.Layer(
                Cosign.SIMPLE_SIGNING,
                Cosign.payload("1", baked.digest()),
                Map.of(Cosign.SIGNATURE, "%%% not base64"))));
    VerifyResult v = verify();
    assertThat(v.verified()).isFalse();
    assertThat(v.problems().get(0).about()).isEqualTo("signature");
    assertThat(v.problems().get(0).message()).contains("do not verify with the key given");
  }

  @Test
  void anAttestationThatIsNoEnvelopeIsAFailedCheck() throws Exception {
    // a signed bake without documents attaches no .att: add one by hand, with garbage in it
    Files.writeString(
        layout.resolve("index.json"),
        Files.readString(layout.resolve("index.json"))
            .replace(
                "]}",
                ",{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\""
                    + baked.digest()
                    + "\",\"size\":1,\"annotations\":{\"org.opencontainers.image.ref.name\":\""
                    + Cosign.attestationTag(baked.digest())
                    + "\"}}]}"));
    replace(
        Cosign.attestationTag(baked.digest()),
        Cosign.ATTESTATION_ARTIFACT,
        List.of(
            CosignManifests.attestationLayer(
                "[1,2".getBytes(StandardCharsets.UTF_8), "https://slsa.dev/provenance/v1")));
    VerifyResult v = verify();
    assertThat(v.verified()).isFalse();
    assertThat(v.problems())
        .singleElement()
        .satisfies(p -> assertThat(p.message()).startsWith("unreadable: not a DSSE envelope"));
  }

  @Test
  void aSignatureBlobChangedInPlaceFailsASignedRebakeNamingItAndChangesNothing() throws Exception {
    String sig = tagged(Cosign.signatureTag(baked.digest()));
    JsonNode layer = JSON.readTree(blob(Digest.parse(sig)).toFile()).path("layers").path(0);
    Path payload = blob(Digest.parse(layer.path("digest").asText()));
    Files.writeString(payload, "changed");
    try (Kiln k = kiln()) {
      assertThatThrownBy(() -> k.bake(build(), "oci:" + layout + ":1"))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("oci:" + layout + ":1")
          .hasMessageContaining(layer.path("digest").asText())
          .hasMessageContaining("does not match its digest");
      assertThatThrownBy(() -> k.verify("oci:" + layout + ":1", key.publicKey()))
          .hasMessageContaining("does not match its digest");
    }
    assertThat(tagged(Cosign.signatureTag(baked.digest()))).isEqualTo(sig);
    assertThat(Files.readString(payload)).isEqualTo("changed");
  }
}
