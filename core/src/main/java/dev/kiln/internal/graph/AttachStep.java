package dev.kiln.internal.graph;

import dev.kiln.Attestation;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.PublishedImage;
import dev.kiln.spi.Attachments;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.ContentSigner;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.Dsse;
import dev.kiln.spi.ImageStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Step 9, only when {@code Kiln.builder().signWith(…)} gave a signer: signs each image's documents
 * (SBOMs and provenance, as in-toto statements in DSSE envelopes, signed once per image) and has
 * every target whose store is an {@link AttestationSink} hold them beside the image with a
 * signature of what it published, all targets at once. A target that cannot hold them gets a
 * warning; a target that fails to fails the bake, naming it. Without a signer nothing is attached:
 * unsigned documents stay in the store and in the result.
 */
final class AttachStep {
  private final Services services;
  private final BakeScope scope;
  private final Contexts contexts;

  AttachStep(Services services, BakeScope scope, Contexts contexts) {
    this.services = services;
    this.scope = scope;
    this.contexts = contexts;
  }

  /** The signer given to the builder, if any. */
  Optional<ContentSigner> signer() {
    return services.registry().capability(ContentSigner.class);
  }

  /**
   * Attaches to each target the signature of what it published ({@code manifest}, an image manifest
   * or index, of {@code mediaType}) and the signed documents of each image ({@code docs}: image
   * digest to its documents).
   */
  void run(
      byte[] manifest,
      String mediaType,
      Map<Digest, List<Attestation>> docs,
      Map<String, ImageStore> targets,
      Map<String, PublishedImage> published)
      throws BakeException {
    Optional<ContentSigner> signer = signer();
    if (signer.isEmpty()) {
      return;
    }
    Attachments attachments;
    try {
      List<Attachments.Attested> attested = new ArrayList<>();
      for (Map.Entry<Digest, List<Attestation>> e : docs.entrySet()) {
        for (Attestation a : e.getValue()) {
          attested.add(attest(e.getKey(), a, signer.get()));
        }
      }
      attachments = new Attachments(manifest, mediaType, attested, signer.get());
    } catch (IOException | RuntimeException e) {
      throw new BakeException(
          "could not sign the documents of image " + Digest.of(manifest) + ": " + e, e);
    }
    Map<String, CompletableFuture<Void>> fs = new LinkedHashMap<>();
    for (Map.Entry<String, ImageStore> t : targets.entrySet()) {
      PublishedImage p = published.get(t.getKey());
      if (p == null) {
        continue;
      }
      if (!(t.getValue() instanceof AttestationSink sink)) {
        services.warn(
            t.getKey() + " cannot hold signatures or attestations: the image there is not signed");
        continue;
      }
      fs.put(
          t.getKey(),
          scope.async(
              () -> {
                try {
                  sink.attach(p, attachments, contexts.publishContext());
                } catch (BakeException e) {
                  throw e;
                } catch (RuntimeException e) {
                  throw new ImageStoreException(
                      t.getKey(), "could not attach the signature: " + e, e);
                }
                return null;
              }));
    }
    for (CompletableFuture<Void> f : fs.values()) {
      BakeScope.join(f);
    }
  }

  /**
   * A document as a signed attestation about {@code image}: the provenance, an in-toto statement
   * already, as it is; an SBOM as the predicate of a statement whose subject is the image.
   */
  static Attachments.Attested attest(Digest image, Attestation a, ContentSigner signer)
      throws IOException {
    String type = Cosign.predicateType(a.kind());
    byte[] statement =
        a.kind() == Attestation.Kind.PROVENANCE
            ? a.content()
            : Cosign.statement(image, type, a.content());
    byte[] envelope = Dsse.sign(Dsse.IN_TOTO, statement, List.of(signer));
    return new Attachments.Attested(image, a, type, envelope);
  }
}
