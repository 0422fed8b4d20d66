package dev.kiln.internal.oci;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.PublishedImage;
import dev.kiln.spi.Attachments;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.CosignManifests;
import dev.kiln.spi.PublishContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The signatures and attestations of an {@code oci:} layout ({@link OciLayoutStore}), kept as a
 * registry keeps them: manifests tagged {@code sha256-<hex>.sig} and {@code .att} in index.json,
 * whose blobs the layout holds beside the image's.
 */
final class OciLayoutSignatures {
  private final OciLayoutStore layout;
  private final String target;
  private final Path dir;
  private final String tag;

  OciLayoutSignatures(OciLayoutStore layout, String target, Path dir, String tag) {
    this.layout = layout;
    this.target = target;
    this.dir = dir;
    this.tag = tag;
  }

  /**
   * Writes the signature and attestation manifests of the image as in a registry: their blobs, and
   * entries in index.json named {@code sha256-<hex>.sig} and {@code .att}; both manifests carry the
   * image as their {@code subject}, which is how a layout lists referrers. The signature's identity
   * is the layout's TAG. What the layout holds already is kept, as in a registry.
   */
  void attach(PublishedImage published, Attachments a, PublishContext ctx) throws BakeException {
    try {
      Digest top = published.digest();
      CosignManifests.Descriptor subject =
          new CosignManifests.Descriptor(a.mediaType(), top, a.manifest().length, null);
      byte[] payload = Cosign.payload(tag, top);
      List<CosignManifests.Layer> sigLayers = tagged(Cosign.signatureTag(top));
      Optional<List<CosignManifests.Layer>> sig =
          CosignManifests.mergeSignature(sigLayers, payload, a.signer());
      if (sig.isPresent()) {
        put(
            CosignManifests.artifact(Cosign.SIGNATURE_ARTIFACT, sig.get(), subject),
            Cosign.signatureTag(top),
            ctx);
      }
      Map<Digest, List<CosignManifests.Layer>> bySubject = new LinkedHashMap<>();
      for (Attachments.Attested at : a.attestations()) {
        bySubject
            .computeIfAbsent(at.subject(), k -> new ArrayList<>())
            .add(CosignManifests.attestationLayer(at.envelope(), at.predicateType()));
      }
      for (Map.Entry<Digest, List<CosignManifests.Layer>> e : bySubject.entrySet()) {
        CosignManifests.Descriptor about = subject;
        if (!e.getKey().equals(top)) {
          about =
              new CosignManifests.Descriptor(
                  Json.MANIFEST_TYPE, e.getKey(), Files.size(layout.blob(e.getKey())), null);
        }
        String attTag = Cosign.attestationTag(e.getKey());
        Optional<List<CosignManifests.Layer>> merged =
            CosignManifests.mergeAttestations(tagged(attTag), e.getValue(), a.signer().publicKey());
        if (merged.isPresent()) {
          put(
              CosignManifests.artifact(Cosign.ATTESTATION_ARTIFACT, merged.get(), about),
              attTag,
              ctx);
        }
      }
    } catch (IOException e) {
      throw new ImageStoreException(
          target, "could not write the signature into the OCI layout: " + e.getMessage(), e);
    }
  }

  private void put(CosignManifests.Artifact art, String name, PublishContext ctx)
      throws IOException {
    for (CosignManifests.Layer l : art.layers()) {
      layout.writeBlob(l.digest(), l.content());
    }
    layout.writeBlob(Digest.of(art.config()), art.config());
    layout.writeBlob(art.digest(), art.manifest());
    layout.setTag(name, Json.manifestDescriptor(art.digest(), art.manifest().length, name), ctx);
  }

  /** The manifest index.json names {@code name}, if any. */
  private Optional<byte[]> taggedManifest(String name) throws IOException {
    Path index = dir.resolve("index.json");
    if (!Files.isRegularFile(index)) {
      return Optional.empty();
    }
    for (JsonNode m : Json.read(Files.readAllBytes(index)).path("manifests")) {
      if (name.equals(m.path("annotations").path(Json.REF_NAME).asText())) {
        Digest d = Digest.parse(m.path("digest").asText());
        byte[] b = Files.readAllBytes(layout.blob(d));
        if (!Digest.of(b).equals(d)) {
          throw new IOException("the manifest " + d + " of the layout does not match its digest");
        }
        return Optional.of(b);
      }
    }
    return Optional.empty();
  }

  /** The layers (with their bytes) of the signature or attestation manifest named {@code name}. */
  private List<CosignManifests.Layer> tagged(String name) throws IOException {
    Optional<byte[]> m = taggedManifest(name);
    if (m.isEmpty()) {
      return List.of();
    }
    return CosignManifests.read(m.get(), l -> Files.readAllBytes(layout.blob(l.digest())));
  }

  AttestationSink.Attached read(PublishContext ctx) throws BakeException {
    try {
      byte[] top =
          taggedManifest(tag)
              .orElseThrow(() -> new IOException("the layout " + dir + " has no tag " + tag));
      Digest d = Digest.of(top);
      JsonNode m = Json.read(top);
      String type = m.path("mediaType").asText(Json.MANIFEST_TYPE);
      List<Digest> images = new ArrayList<>();
      images.add(d);
      for (JsonNode child : m.path("manifests")) {
        images.add(Digest.parse(child.path("digest").asText()));
      }
      Map<Digest, List<CosignManifests.Layer>> atts = new LinkedHashMap<>();
      for (Digest i : images) {
        atts.put(i, tagged(Cosign.attestationTag(i)));
      }
      return new AttestationSink.Attached(top, type, tagged(Cosign.signatureTag(d)), atts);
    } catch (IOException | IllegalArgumentException e) {
      throw new ImageStoreException(
          target, "could not read the OCI layout " + dir + ": " + e.getMessage(), e);
    }
  }
}
