package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.SigningKey;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.CosignManifests;
import dev.kiln.spi.Dsse;
import dev.kiln.testing.Openssl;
import dev.kiln.testing.SigningKeys;
import dev.kiln.testing.Tools;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A signed bake to Debian's docker-registry, checked by tools Kiln did not write: skopeo with a
 * {@code sigstoreSigned} policy accepts the signed image and rejects an unsigned one and another
 * image pushed under the signed tag; openssl verifies the signature and every DSSE envelope.
 */
class SignedRegistryIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir static Path dir;
  static LocalRegistry registry;
  static SigningKey key;
  static Path pub;

  @BeforeAll
  static void setUp() throws Exception {
    Tools.require("docker-registry", "docker-registry");
    registry = LocalRegistry.start(dir.resolve("registry"));
    key = SigningKeys.write(dir.resolve("key.pem"));
    pub = dir.resolve("pub.pem");
    Files.writeString(pub, SigningKey.toPem(key.publicKey()));
  }

  @AfterAll
  static void tearDown() {
    if (registry != null) {
      registry.close();
    }
  }

  static ImageBuild build(String content) {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("app").content("/etc/app", content.getBytes(StandardCharsets.UTF_8), 0644));
  }

  static BakeResult bake(ImageBuild build, String target, boolean signed) throws Exception {
    Kiln.Builder b = Kiln.builder().store(dir.resolve("store")).sbom(true).provenance(true);
    if (signed) {
      b.signWith(key);
    }
    try (Kiln kiln = b.build()) {
      return kiln.bake(build, target);
    }
  }

  /** skopeo copy under a policy that requires a sigstore signature by {@link #key}. */
  static Tools.Result skopeoCopy(String ref) throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    Path policy = dir.resolve("policy.json");
    Files.writeString(
        policy,
        "{\"default\":[{\"type\":\"sigstoreSigned\",\"keyPath\":\""
            + pub
            + "\",\"signedIdentity\":{\"type\":\"matchRepository\"}}]}");
    Path regd = dir.resolve("registries.d");
    Files.createDirectories(regd);
    Files.writeString(
        regd.resolve("kiln-test.yaml"), "default-docker:\n  use-sigstore-attachments: true\n");
    Path out = Files.createTempDirectory(dir, "copy");
    Tools.Result r =
        Tools.run(
            skopeo,
            "--policy",
            policy.toString(),
            "--registries.d",
            regd.toString(),
            "copy",
            "--src-tls-verify=false",
            "docker://" + ref,
            "dir:" + out);
    // (such a skopeo still reads the attachments: "no signature exists" comes before the refusal)
    // Debian builds skopeo without sigstore support: it then refuses every sigstoreSigned policy,
    // and neither an acceptance nor a rejection would say anything about the image
    assumeFalse(
        r.output().contains("sigstore disabled"),
        "this skopeo is built without sigstore support: " + r.output().strip());
    return r;
  }

  /** The OCI manifest tagged {@code tag} in the repository {@code repo} of the registry. */
  static byte[] manifest(String repo, String tag) throws Exception {
    return get("/v2/" + repo + "/manifests/" + tag, RegistryClient.OCI_MANIFEST);
  }

  static byte[] get(String path, String accept) throws Exception {
    HttpResponse<byte[]> r =
        HTTP.send(
            HttpRequest.newBuilder(URI.create("http://" + registry.host() + path))
                .header("Accept", accept)
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() != 200) {
      String tags =
          HTTP.send(
                  HttpRequest.newBuilder(
                          URI.create(
                              "http://"
                                  + registry.host()
                                  + path.replaceFirst("/(manifests|blobs)/.*", "/tags/list")))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      assertThat(r.statusCode())
          .as("GET " + path + "; the repository's tags: " + tags)
          .isEqualTo(200);
    }
    return r.body();
  }

  @Test
  void opensslVerifiesSignatureAndEnvelopesAndSkopeoAcceptsTheSignedImage() throws Exception {
    String ref = registry.host() + "/kiln/signed:1";
    BakeResult r = bake(build("signed"), "docker://" + ref, true);

    byte[] sig = manifest("kiln/signed", Cosign.signatureTag(r.digest()));
    JsonNode layer = JSON.readTree(sig).path("layers").path(0);
    assertThat(layer.path("mediaType").asText()).isEqualTo(Cosign.SIMPLE_SIGNING);
    assertThat(JSON.readTree(sig).path("subject").path("digest").asText())
        .isEqualTo(r.digest().toString());
    byte[] payload = get("/v2/kiln/signed/blobs/" + layer.path("digest").asText(), "*/*");
    JsonNode p = JSON.readTree(payload);
    assertThat(p.at("/critical/image/docker-manifest-digest").asText())
        .isEqualTo(r.digest().toString());
    assertThat(p.at("/critical/identity/docker-reference").asText())
        .isEqualTo(registry.host() + "/kiln/signed");
    Openssl.assertVerifies(
        pub,
        payload,
        Base64.getDecoder().decode(layer.path("annotations").path(Cosign.SIGNATURE).asText()),
        dir);

    byte[] att = manifest("kiln/signed", Cosign.attestationTag(r.digest()));
    List<String> types = new ArrayList<>();
    for (JsonNode l : JSON.readTree(att).path("layers")) {
      assertThat(l.path("mediaType").asText()).isEqualTo(Dsse.MEDIA_TYPE);
      types.add(l.path("annotations").path("predicateType").asText());
      Dsse.Envelope env =
          Dsse.read(get("/v2/kiln/signed/blobs/" + l.path("digest").asText(), "*/*"));
      Openssl.assertVerifies(pub, env.pae(), env.signatures().get(0).sig(), dir);
    }
    assertThat(types)
        .containsExactlyInAnyOrder(
            Cosign.predicateType(Attestation.Kind.PROVENANCE),
            Cosign.predicateType(Attestation.Kind.SPDX),
            Cosign.predicateType(Attestation.Kind.CYCLONEDX));

    // distribution 2.8 has no referrers API: the referrers tag lists both manifests
    JsonNode index =
        JSON.readTree(
            get(
                "/v2/kiln/signed/manifests/" + Cosign.referrersTag(r.digest()),
                RegistryClient.OCI_INDEX));
    assertThat(index.path("manifests").findValuesAsText("digest"))
        .containsExactlyInAnyOrder(Digest.of(sig).toString(), Digest.of(att).toString());

    Tools.Result copy = skopeoCopy(ref);
    assertThat(copy.exit()).as(copy.output()).isEqualTo(0);
  }

  @Test
  void aRebakeKeepsTheSignatureAndReplacesItsOwnAttestations() throws Exception {
    String ref = registry.host() + "/kiln/again:1";
    BakeResult r = bake(build("again"), "docker://" + ref, true);
    byte[] sig = manifest("kiln/again", Cosign.signatureTag(r.digest()));
    byte[] att = manifest("kiln/again", Cosign.attestationTag(r.digest()));
    bake(build("again"), "docker://" + ref, true);
    assertThat(manifest("kiln/again", Cosign.signatureTag(r.digest()))).isEqualTo(sig);
    // the provenance names what each target holds, which a rebake changes: it replaces the old one
    byte[] att2 = manifest("kiln/again", Cosign.attestationTag(r.digest()));
    assertThat(JSON.readTree(att2).path("layers")).hasSize(3);
    assertThat(JSON.readTree(att).path("layers")).hasSize(3);
  }

  @Test
  void skopeoRejectsAnUnsignedImage() throws Exception {
    String ref = registry.host() + "/kiln/unsigned:1";
    bake(build("unsigned"), "docker://" + ref, false);
    Tools.Result copy = skopeoCopy(ref);
    assertThat(copy.exit()).as(copy.output()).isNotEqualTo(0);
    assertThat(copy.output()).contains("no signature exists");
  }

  @Test
  void skopeoRejectsAnotherImagePushedUnderTheSignedTag() throws Exception {
    String ref = registry.host() + "/kiln/retagged:1";
    BakeResult signed = bake(build("original"), "docker://" + ref, true);
    assertThat(skopeoCopy(ref).exit()).isEqualTo(0);
    BakeResult other = bake(build("tampered"), "docker://" + ref, false);
    assertThat(other.digest()).isNotEqualTo(signed.digest());
    Tools.Result copy = skopeoCopy(ref);
    assertThat(copy.exit()).as(copy.output()).isNotEqualTo(0);
    // the signed image's signature, put beside the other image: it names the signed digest
    byte[] sig = manifest("kiln/retagged", Cosign.signatureTag(signed.digest()));
    HttpResponse<byte[]> put =
        HTTP.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://"
                            + registry.host()
                            + "/v2/kiln/retagged/manifests/"
                            + Cosign.signatureTag(other.digest())))
                .header("Content-Type", RegistryClient.OCI_MANIFEST)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(sig))
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(put.statusCode()).isEqualTo(201);
    copy = skopeoCopy(ref);
    assertThat(copy.exit()).as(copy.output()).isNotEqualTo(0);
    assertThat(copy.output()).contains(signed.digest().hex());
  }

  static RegistryClient client(String repo) {
    return Registries.client(ImageReference.parse(registry.host() + "/" + repo + ":1"), true, null);
  }

  static dev.kiln.VerifyResult verify(String ref, java.security.PublicKey with) throws Exception {
    try (Kiln kiln = Kiln.builder().store(dir.resolve("store")).build()) {
      return kiln.verify("docker://" + ref, with);
    }
  }

  @Test
  void verifyAcceptsTheSignedImageAndSaysWhatItChecked() throws Exception {
    String ref = registry.host() + "/kiln/verified:1";
    BakeResult r = bake(build("verified"), "docker://" + ref, true);
    dev.kiln.VerifyResult v = verify(ref, key.publicKey());
    assertThat(v.verified()).as(v.toString()).isTrue();
    assertThat(v.image()).isEqualTo(r.digest());
    assertThat(v.checks().stream().map(dev.kiln.VerifyResult.Check::about).toList())
        .contains(
            "signature",
            "provenance of " + r.digest().shortHex(),
            "SPDX SBOM of " + r.digest().shortHex() + " in the provenance",
            "CycloneDX SBOM of " + r.digest().shortHex() + " in the provenance");
  }

  @Test
  void verifyWithAnotherKeyFailsSayingSo() throws Exception {
    String ref = registry.host() + "/kiln/otherkey:1";
    bake(build("otherkey"), "docker://" + ref, true);
    dev.kiln.VerifyResult v = verify(ref, SigningKeys.generate().publicKey());
    assertThat(v.verified()).isFalse();
    assertThat(v.problems().get(0).message()).contains("do not verify with the key given");
    assertThat(v.problems()).anyMatch(c -> c.message().contains("DSSE signature does not verify"));
  }

  @Test
  void verifyRejectsAnUnsignedImageAndAnotherImageUnderTheSignedTag() throws Exception {
    String ref = registry.host() + "/kiln/swapped:1";
    BakeResult signed = bake(build("swapped"), "docker://" + ref, true);
    BakeResult other = bake(build("swapped in"), "docker://" + ref, false);
    dev.kiln.VerifyResult v = verify(ref, key.publicKey());
    assertThat(v.verified()).isFalse();
    assertThat(v.problems().get(0).message()).contains("no signature of " + other.digest());
    // the signed image's signature and attestations, copied beside the other image
    RegistryClient c = client("kiln/swapped");
    for (String tag :
        List.of(Cosign.signatureTag(signed.digest()), Cosign.attestationTag(signed.digest()))) {
      byte[] m = c.manifest("kiln/swapped", tag).bytes();
      c.putManifest(
          "kiln/swapped",
          tag.replace(signed.digest().hex(), other.digest().hex()),
          m,
          RegistryClient.OCI_MANIFEST);
    }
    v = verify(ref, key.publicKey());
    assertThat(v.verified()).isFalse();
    assertThat(v.problems().get(0).message())
        .contains("no signature names " + other.digest())
        .contains(signed.digest().toString());
    assertThat(v.problems())
        .anyMatch(
            p ->
                p.about().startsWith("provenance")
                    && p.message().contains("not the image " + other.digest()));
  }

  @Test
  void verifyFindsAModifiedSbomAndAnSbomTheProvenanceDoesNotList() throws Exception {
    String ref = registry.host() + "/kiln/modified:1";
    BakeResult r = bake(build("modified"), "docker://" + ref, true);
    RegistryClient c = client("kiln/modified");
    String tag = Cosign.attestationTag(r.digest());
    RegistryClient.Manifest att = c.manifest("kiln/modified", tag);
    List<CosignManifests.Layer> layers =
        CosignManifests.read(att.bytes(), l -> c.smallBlob("kiln/modified", l.digest(), 1 << 24));
    String spdxType = Cosign.predicateType(Attestation.Kind.SPDX);
    byte[] spdx = r.attestation(Attestation.Kind.SPDX).orElseThrow().content();
    byte[] changed =
        new String(spdx, StandardCharsets.UTF_8)
            .replace("\"spdxVersion\"", "\"comment\":\"changed\",\"spdxVersion\"")
            .getBytes(StandardCharsets.UTF_8);
    byte[] statement = Cosign.statement(r.digest(), spdxType, changed);

    // 1. the SBOM changed, the signature kept: the envelope no longer verifies
    List<CosignManifests.Layer> modified = new ArrayList<>();
    for (CosignManifests.Layer l : layers) {
      if (spdxType.equals(l.annotations().get(Cosign.PREDICATE_TYPE))) {
        Dsse.Envelope env = Dsse.read(l.content());
        byte[] forged = Dsse.envelope(Dsse.IN_TOTO, statement, env.signatures());
        modified.add(CosignManifests.attestationLayer(forged, spdxType));
      } else {
        modified.add(l);
      }
    }
    putAttestations(c, "kiln/modified", tag, modified, att);
    dev.kiln.VerifyResult v = verify(ref, key.publicKey());
    assertThat(v.verified()).isFalse();
    assertThat(v.problems())
        .anyMatch(
            p ->
                p.about().startsWith("SPDX SBOM")
                    && p.message().contains("DSSE signature does not verify"));

    // 2. a changed SBOM signed by the key: signed, but not the one the provenance lists
    List<CosignManifests.Layer> resigned = new ArrayList<>();
    for (CosignManifests.Layer l : layers) {
      resigned.add(
          spdxType.equals(l.annotations().get(Cosign.PREDICATE_TYPE))
              ? CosignManifests.attestationLayer(
                  Dsse.sign(Dsse.IN_TOTO, statement, List.of(key)), spdxType)
              : l);
    }
    putAttestations(c, "kiln/modified", tag, resigned, att);
    v = verify(ref, key.publicKey());
    assertThat(v.verified()).isFalse();
    assertThat(v.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.about()).startsWith("SPDX SBOM");
              assertThat(p.message())
                  .contains(Digest.of(changed).toString())
                  .contains("is not one of the SBOMs the provenance lists");
            });
  }

  private static void putAttestations(
      RegistryClient c,
      String repo,
      String tag,
      List<CosignManifests.Layer> layers,
      RegistryClient.Manifest old)
      throws Exception {
    JsonNode subject = JSON.readTree(old.bytes()).path("subject");
    CosignManifests.Artifact art =
        CosignManifests.artifact(
            Cosign.ATTESTATION_ARTIFACT,
            layers,
            new CosignManifests.Descriptor(
                subject.path("mediaType").asText(),
                Digest.parse(subject.path("digest").asText()),
                subject.path("size").asLong(),
                null));
    for (CosignManifests.Layer l : layers) {
      c.putBlob(repo, l.content());
    }
    c.putBlob(repo, art.config());
    c.putManifest(repo, tag, art.manifest(), RegistryClient.OCI_MANIFEST);
  }

  @Test
  void aMultiPlatformImageIsSignedByItsIndexDigestAndEachPlatformHasItsAttestations()
      throws Exception {
    String ref = registry.host() + "/kiln/multi:1";
    BakeResult r =
        bake(build("multi").platforms("linux/amd64", "linux/arm64"), "docker://" + ref, true);
    RegistryClient c = client("kiln/multi");
    assertThat(c.manifestDigest("kiln/multi", "1", RegistryClient.pullScope("kiln/multi")))
        .contains(r.digest());
    JsonNode sig = JSON.readTree(manifest("kiln/multi", Cosign.signatureTag(r.digest())));
    assertThat(sig.path("subject").path("mediaType").asText()).isEqualTo(RegistryClient.OCI_INDEX);
    dev.kiln.VerifyResult v = verify(ref, key.publicKey());
    assertThat(v.verified()).as(v.toString()).isTrue();
    for (BakeResult p : r.platforms().values()) {
      assertThat(v.checks())
          .anyMatch(x -> x.ok() && x.about().equals("provenance of " + p.digest().shortHex()));
    }
  }

  @Test
  void aSecondSignerIsAddedAndTheFirstKeptAndTheReferrersTagFollows() throws Exception {
    String ref = registry.host() + "/kiln/twokeys:1";
    BakeResult r = bake(build("twokeys"), "docker://" + ref, true);
    SigningKey second = SigningKeys.generate();
    try (Kiln kiln = Kiln.builder().store(dir.resolve("store")).signWith(second).build()) {
      kiln.bake(build("twokeys"), "docker://" + ref);
    }
    byte[] sig = manifest("kiln/twokeys", Cosign.signatureTag(r.digest()));
    assertThat(JSON.readTree(sig).path("layers")).hasSize(2);
    assertThat(verify(ref, key.publicKey()).verified()).isTrue();
    // the second key signed the image but attested nothing: the first key's attestations are not
    // its
    dev.kiln.VerifyResult v = verify(ref, second.publicKey());
    assertThat(v.checks().get(0).ok()).isTrue();
    assertThat(v.problems())
        .hasSize(3)
        .allMatch(p -> p.message().contains("does not verify with the key given"));
    // once it attests too, each key finds its own attestations beside the other's
    try (Kiln kiln =
        Kiln.builder()
            .store(dir.resolve("store"))
            .sbom(true)
            .provenance(true)
            .signWith(second)
            .build()) {
      kiln.bake(build("twokeys"), "docker://" + ref);
    }
    byte[] attBytes = manifest("kiln/twokeys", Cosign.attestationTag(r.digest()));
    assertThat(JSON.readTree(attBytes).path("layers")).hasSize(6);
    for (SigningKey k : List.of(key, second)) {
      dev.kiln.VerifyResult both = verify(ref, k.publicKey());
      assertThat(both.verified()).as(both.toString()).isTrue();
    }
    // the referrers index names the signature manifest now under the tag, not the one it replaced
    JsonNode index =
        JSON.readTree(
            get(
                "/v2/kiln/twokeys/manifests/" + Cosign.referrersTag(r.digest()),
                RegistryClient.OCI_INDEX));
    assertThat(index.path("manifests").findValuesAsText("digest"))
        .contains(Digest.of(sig).toString(), Digest.of(attBytes).toString())
        .hasSize(2);
  }
}
