package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import dev.kiln.Digest;
import dev.kiln.Kiln;
import dev.kiln.PublishedImage;
import dev.kiln.SigningKey;
import dev.kiln.s3.S3ProxyServer;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.Dsse;
import dev.kiln.testing.SigningKeys;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bake to {@code ec2://} with a signer tags the AMI and its copy with the digests of the SBOMs,
 * the provenance, their signed envelopes and the AMI's signature, each of which the store keeps and
 * the public key verifies; the provenance names the AMI.
 */
class SignedAmiTest {
  private static final String REGION = "eu-west-1";
  private static final String COPY_REGION = "us-east-1";
  private static final String DISK = "disk.dataOnly=true&disk.size=160M";
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;
  @Loopback LoopbackAws aws;

  private Ec2Target target() {
    return Ec2Target.parse(
            "ec2://"
                + REGION
                + "/data?endpoint="
                + aws.endpoint()
                + "&copyTo="
                + COPY_REGION
                + "&"
                + DISK)
        .credentials(aws.credentials());
  }

  @Test
  void theAmiAndItsCopyNameDocumentsAndASignatureThatVerify() throws Exception {
    SigningKey key = SigningKeys.write(tmp.resolve("key.pem"));
    Path store = tmp.resolve("store");
    BakeResult r;
    try (Kiln kiln =
        Kiln.builder().store(store).sbom(true).provenance(true).signWith(key).build()) {
      r = kiln.bake(Ec2DiskOptionsTest.dataImage(), target());
    }
    PublishedImage p = r.published().values().iterator().next();
    String amiId = p.details().get("imageId");
    String copyId = p.details().get("copy." + COPY_REGION);
    assertThat(copyId).startsWith("ami-");

    for (String id : List.of(amiId, copyId)) {
      LoopbackAws.ImageInfo ami = aws.image(id).orElseThrow();
      Map<String, String> tags = ami.tags();
      // the documents' digests: the ones the bake returned and the store keeps
      for (Attestation a : r.attestations()) {
        String tag = Ec2ImageStores.documentTag(a.kind());
        assertThat(tags).as(id).containsEntry(tag, a.digest().toString());
        assertThat(blob(store, a.digest())).isEqualTo(a.content());
        // its signed envelope: its payload is the document (the provenance) or a statement about
        // the image whose predicate is the document (an SBOM), signed by the key
        byte[] envelope = blob(store, Digest.parse(tags.get(tag + KilnTags.DSSE_SUFFIX)));
        Dsse.Envelope e = Dsse.read(envelope);
        assertThat(e.payloadType()).isEqualTo(Dsse.IN_TOTO);
        assertThat(verifies(key, e)).as(tag + " envelope").isTrue();
        if (a.kind() == Attestation.Kind.PROVENANCE) {
          assertThat(e.payload()).isEqualTo(a.content());
        } else {
          assertThat(Cosign.predicate(e.payload()).orElseThrow()).isEqualTo(a.content());
        }
      }
      assertThat(tags)
          .containsKeys(KilnTags.SBOM_SPDX, KilnTags.SBOM_CYCLONEDX, KilnTags.PROVENANCE);

      // the AMI's own signature names this AMI in its region and the image digest
      byte[] sig = blob(store, Digest.parse(tags.get(KilnTags.SIGNATURE)));
      Dsse.Envelope e = Dsse.read(sig);
      assertThat(e.payloadType()).isEqualTo(Cosign.SIMPLE_SIGNING);
      assertThat(verifies(key, e)).isTrue();
      Cosign.Payload payload = Cosign.readPayload(e.payload());
      assertThat(payload.repository()).isEqualTo("ec2://" + ami.region() + "/" + id);
      assertThat(payload.manifest()).isEqualTo(r.digest());
      assertThat(tags).containsEntry(KilnTags.DIGEST, r.digest().toString());
    }
    assertThat(aws.image(amiId).orElseThrow().tags().get(KilnTags.SIGNATURE))
        .isNotEqualTo(aws.image(copyId).orElseThrow().tags().get(KilnTags.SIGNATURE));

    // the provenance names the AMI (and the envelope that signs it is the one the tag names)
    JsonNode provenance =
        JSON.readTree(r.attestation(Attestation.Kind.PROVENANCE).orElseThrow().content());
    List<JsonNode> ec2 = new ArrayList<>();
    provenance
        .path("subject")
        .forEach(
            s -> {
              if (s.path("name").asText().startsWith("ec2://")) {
                ec2.add(s);
              }
            });
    assertThat(ec2).hasSize(1);
    assertThat(ec2.get(0).path("digest").path("sha256").asText()).isEqualTo(r.digest().hex());
    assertThat(ec2.get(0).path("annotations").path("imageId").asText()).isEqualTo(amiId);
    assertThat(ec2.get(0).path("annotations").path("region").asText()).isEqualTo(REGION);
    assertThat(ec2.get(0).path("annotations").path("copy." + COPY_REGION).asText())
        .isEqualTo(copyId);

    // openssl verifies the provenance envelope's signature with the public key
    String openssl = Tools.require("openssl", "openssl");
    Dsse.Envelope prov =
        Dsse.read(
            blob(
                store,
                Digest.parse(
                    aws.image(amiId)
                        .orElseThrow()
                        .tags()
                        .get(KilnTags.PROVENANCE + KilnTags.DSSE_SUFFIX))));
    Path pae = Files.write(tmp.resolve("pae"), Dsse.pae(prov.payloadType(), prov.payload()));
    Path sigFile = Files.write(tmp.resolve("sig"), prov.signatures().get(0).sig());
    Path pub = Files.writeString(tmp.resolve("pub.pem"), SigningKey.toPem(key.publicKey()));
    Tools.run(
            openssl,
            "dgst",
            "-sha256",
            "-verify",
            pub.toString(),
            "-signature",
            sigFile.toString(),
            pae.toString())
        .ok();

    // the store lists what it keeps for the target beside the image's publications
    try (Stream<Path> records = Files.list(store.resolve("records").resolve(r.digest().hex()))) {
      List<String> texts = new ArrayList<>();
      for (Path f : records.toList()) {
        texts.add(Files.readString(f));
      }
      assertThat(texts)
          .anySatisfy(
              t ->
                  assertThat(t)
                      .contains("\"signed\"")
                      .contains(aws.image(amiId).orElseThrow().tags().get(KilnTags.SIGNATURE)));
    }
  }

  @Test
  void theAttestationsLocationHoldsEveryDocumentATagNames() throws Exception {
    try (S3ProxyServer s3 =
        S3ProxyServer.startSignedWith(
            LoopbackAws.ACCESS_KEY, LoopbackAws.SECRET_KEY, "kiln-attestations")) {
      Ec2Target target =
          Ec2Target.parse(
                  "ec2://"
                      + REGION
                      + "/data?endpoint="
                      + aws.endpoint()
                      + "&attestations=s3://kiln-attestations/images/web/&s3Endpoint="
                      + s3.endpoint()
                      + "&"
                      + DISK)
              .credentials(aws.credentials());
      assertThat(target.attestations()).contains("s3://kiln-attestations/images/web");
      assertThat(Ec2Target.parse(target.toUri()).toUri()).isEqualTo(target.toUri());
      BakeResult r;
      try (Kiln kiln =
          Kiln.builder()
              .store(tmp.resolve("store"))
              .sbom(true)
              .provenance(true)
              .signWith(SigningKeys.generate())
              .build()) {
        r = kiln.bake(Ec2DiskOptionsTest.dataImage(), target);
      }
      Map<String, String> tags = aws.images(REGION).get(0).tags();
      List<String> named = new ArrayList<>();
      for (Map.Entry<String, String> t : tags.entrySet()) {
        if (t.getKey().startsWith("kiln:sbom")
            || t.getKey().startsWith("kiln:provenance")
            || t.getKey().equals(KilnTags.SIGNATURE)) {
          named.add(t.getKey());
          Digest d = Digest.parse(t.getValue());
          byte[] object =
              s3.object("kiln-attestations", "images/web/sha256/" + d.hex()).orElseThrow();
          assertThat(Digest.of(object)).as(t.getKey()).isEqualTo(d);
        }
      }
      assertThat(named).hasSize(7);
      Attestation provenance = r.attestation(Attestation.Kind.PROVENANCE).orElseThrow();
      assertThat(
              s3.contentType("kiln-attestations", "images/web/sha256/" + provenance.digest().hex()))
          .isEqualTo(provenance.mediaType());
    }
  }

  @Test
  void aRebakeThatFindsTheAmiSignsItAgainAndKeepsTheEarlierSignature() throws Exception {
    SigningKey key = SigningKeys.generate();
    Path store = tmp.resolve("store");
    Ec2Target target =
        Ec2Target.parse("ec2://" + REGION + "/data?endpoint=" + aws.endpoint() + "&" + DISK)
            .credentials(aws.credentials());
    try (Kiln kiln = Kiln.builder().store(store).provenance(true).signWith(key).build()) {
      kiln.bake(Ec2DiskOptionsTest.dataImage(), target);
      String first = aws.images(REGION).get(0).tags().get(KilnTags.SIGNATURE);
      BakeResult again = kiln.bake(Ec2DiskOptionsTest.dataImage(), target);
      assertThat(again.published().values().iterator().next().reused()).isTrue();
      assertThat(aws.images(REGION)).hasSize(1);
      String second = aws.images(REGION).get(0).tags().get(KilnTags.SIGNATURE);
      assertThat(second).isNotEqualTo(first);
      for (String sig : List.of(first, second)) {
        Dsse.Envelope e = Dsse.read(blob(store, Digest.parse(sig)));
        assertThat(verifies(key, e)).isTrue();
      }
    }
  }

  @Test
  void withoutASignerTheAmiCarriesNoSignatureTags() throws Exception {
    try (Kiln kiln =
        Kiln.builder().store(tmp.resolve("store")).sbom(true).provenance(true).build()) {
      kiln.bake(Ec2DiskOptionsTest.dataImage(), target());
    }
    for (LoopbackAws.ImageInfo ami : aws.images()) {
      assertThat(ami.tags().keySet())
          .doesNotContain(KilnTags.SIGNATURE, KilnTags.PROVENANCE, KilnTags.SBOM_SPDX);
    }
  }

  private static boolean verifies(SigningKey key, Dsse.Envelope e) {
    return !e.signatures().isEmpty()
        && e.signatures().stream()
            .allMatch(
                s ->
                    SigningKey.verify(
                        key.publicKey(), Dsse.pae(e.payloadType(), e.payload()), s.sig()));
  }

  private static byte[] blob(Path store, Digest d) throws IOException {
    byte[] b = Files.readAllBytes(store.resolve("blobs/sha256").resolve(d.hex()));
    assertThat(Digest.of(b)).isEqualTo(d);
    return b;
  }
}
