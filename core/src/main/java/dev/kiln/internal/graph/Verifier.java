package dev.kiln.internal.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Attestation;
import dev.kiln.Digest;
import dev.kiln.SigningKey;
import dev.kiln.VerifyResult;
import dev.kiln.VerifyResult.Check;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.CosignManifests;
import dev.kiln.spi.Dsse;
import java.io.IOException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Checks what a target holds ({@link AttestationSink.Attached}) against a public key: the signature
 * of the manifest the target names, each attestation's signature and subject, the provenance's
 * subject, and that each SBOM is one the provenance lists as a byproduct.
 */
final class Verifier {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PROVENANCE = Cosign.predicateType(Attestation.Kind.PROVENANCE);

  private Verifier() {}

  static VerifyResult check(String target, AttestationSink.Attached a, PublicKey key) {
    Digest image = a.image();
    List<Check> checks = new ArrayList<>();
    checks.add(signature(a, key));
    boolean index = a.mediaType().contains("index") || a.mediaType().contains("list");
    for (Map.Entry<Digest, List<CosignManifests.Layer>> e : a.attestations().entrySet()) {
      if (index && e.getKey().equals(image) && e.getValue().isEmpty()) {
        continue; // the documents are about each platform's image
      }
      checks.addAll(attestations(e.getKey(), e.getValue(), key));
    }
    return new VerifyResult(target, image, checks);
  }

  private static Check signature(AttestationSink.Attached a, PublicKey key) {
    Digest image = a.image();
    if (a.signatures().isEmpty()) {
      return new Check(
          "signature", false, "no signature of " + image + " (" + Cosign.signatureTag(image) + ")");
    }
    Set<String> named = new LinkedHashSet<>();
    boolean other = false;
    for (CosignManifests.Layer l : a.signatures()) {
      if (!l.mediaType().equals(Cosign.SIMPLE_SIGNING)) {
        continue;
      }
      Cosign.Payload p;
      try {
        p = Cosign.readPayload(l.content());
      } catch (IOException e) {
        continue;
      }
      if (!p.manifest().equals(image)) {
        named.add(p.manifest().toString());
        continue;
      }
      if (CosignManifests.verifies(l, key)) {
        return new Check(
            "signature", true, image + " is signed by the key (identity " + p.repository() + ")");
      }
      other = true;
    }
    if (other) {
      return new Check(
          "signature",
          false,
          "the signatures of " + image + " do not verify with the key given (another key's?)");
    }
    return new Check(
        "signature",
        false,
        "no signature names "
            + image
            + (named.isEmpty()
                ? ""
                : "; the signatures there name "
                    + String.join(", ", named)
                    + " (another image's signature, or the tag now names another image)"));
  }

  private record Statement(String type, JsonNode json, byte[] bytes) {}

  private static List<Check> attestations(
      Digest image, List<CosignManifests.Layer> layers, PublicKey key) {
    List<Check> checks = new ArrayList<>();
    if (layers.isEmpty()) {
      checks.add(new Check("attestations of " + image.shortHex(), true, "none attached"));
      return checks;
    }
    List<Statement> good = new ArrayList<>();
    Map<Integer, String> unsigned = new java.util.HashMap<>();
    for (CosignManifests.Layer l : layers) {
      String type = l.annotations().getOrDefault(Cosign.PREDICATE_TYPE, "?");
      String about = name(type) + " of " + image.shortHex();
      if (!l.mediaType().equals(Dsse.MEDIA_TYPE)) {
        continue;
      }
      Dsse.Envelope env;
      JsonNode st;
      try {
        env = Dsse.read(l.content());
        st = JSON.readTree(env.payload());
      } catch (IOException e) {
        checks.add(new Check(about, false, "unreadable: " + e.getMessage()));
        continue;
      }
      boolean signed = false;
      for (Dsse.Signature s : env.signatures()) {
        signed |= SigningKey.verify(key, env.pae(), s.sig());
      }
      if (!signed) {
        unsigned.put(checks.size(), l.annotations().getOrDefault(Cosign.PREDICATE_TYPE, "?"));
        checks.add(
            new Check(
                about,
                false,
                "its DSSE signature does not verify with the key given (modified, or signed by"
                    + " another key)"));
        continue;
      }
      type = st.path("predicateType").asText(type);
      about = name(type) + " of " + image.shortHex();
      List<Digest> subjects = Cosign.subjects(st);
      if (!subjects.contains(image)) {
        checks.add(
            new Check(about, false, "signed, but about " + subjects + ", not the image " + image));
        continue;
      }
      checks.add(new Check(about, true, "signed by the key, about " + image));
      good.add(new Statement(type, st, env.payload()));
    }
    // another signer's attestation beside one of the same type signed by this key is not this
    // key's concern; alone, it is: what is attached of that type is not signed by the key
    for (Map.Entry<Integer, String> u : unsigned.entrySet()) {
      if (good.stream().anyMatch(g -> g.type().equals(u.getValue()))) {
        Check c = checks.get(u.getKey());
        checks.set(
            u.getKey(),
            new Check(c.about(), true, "signed by another key; one signed by the key is there"));
      }
    }
    Optional<Statement> provenance =
        good.stream().filter(s -> s.type().equals(PROVENANCE)).findFirst();
    Set<Digest> byproducts = new LinkedHashSet<>();
    provenance.ifPresent(
        p -> {
          for (JsonNode b : p.json().at("/predicate/runDetails/byproducts")) {
            String hex = b.path("digest").path("sha256").asText("");
            if (hex.matches("[0-9a-f]{64}")) {
              byproducts.add(new Digest(hex));
            }
          }
        });
    for (Statement s : good) {
      if (s.type().equals(PROVENANCE)) {
        continue;
      }
      String about = name(s.type()) + " of " + image.shortHex() + " in the provenance";
      if (provenance.isEmpty()) {
        checks.add(new Check(about, true, "not checked: no provenance is attached"));
        continue;
      }
      Optional<byte[]> predicate;
      try {
        predicate = Cosign.predicate(s.bytes());
      } catch (IOException e) {
        predicate = Optional.empty();
      }
      if (predicate.isEmpty()) {
        checks.add(new Check(about, false, "the statement has no predicate"));
        continue;
      }
      Digest d = Digest.of(predicate.get());
      checks.add(
          byproducts.contains(d)
              ? new Check(about, true, d + " is a byproduct the provenance lists")
              : new Check(
                  about, false, d + " is not one of the SBOMs the provenance lists " + byproducts));
    }
    return checks;
  }

  private static String name(String predicateType) {
    if (predicateType.equals(PROVENANCE)) {
      return "provenance";
    }
    if (predicateType.equals(Cosign.predicateType(Attestation.Kind.SPDX))) {
      return "SPDX SBOM";
    }
    if (predicateType.equals(Cosign.predicateType(Attestation.Kind.CYCLONEDX))) {
      return "CycloneDX SBOM";
    }
    return "attestation " + predicateType;
  }
}
