package dev.kiln.spi;

import dev.kiln.Attestation;
import dev.kiln.Digest;
import java.util.List;
import java.util.Objects;

/**
 * What Kiln attaches to one published image ({@link AttestationSink}): the manifest (or image
 * index) it signs, the documents of the image as signed in-toto attestations, and the signer, with
 * which the sink signs what depends on the target (the cosign signature payload names the
 * repository).
 *
 * @param manifest the bytes of the OCI manifest or image index Kiln published
 * @param mediaType its media type
 * @param attestations the documents as signed DSSE envelopes, each about its own image (for a
 *     multi-platform image, the platform's manifest)
 * @param signer signs; the envelopes are signed by it
 */
public record Attachments(
    byte[] manifest, String mediaType, List<Attested> attestations, ContentSigner signer) {

  public Attachments {
    manifest = manifest.clone();
    Objects.requireNonNull(mediaType, "mediaType");
    attestations = List.copyOf(attestations);
    Objects.requireNonNull(signer, "signer");
  }

  /** The digest of {@link #manifest}: the image a target holds, which its signature covers. */
  public Digest image() {
    return Digest.of(manifest);
  }

  @Override
  public byte[] manifest() {
    return manifest.clone();
  }

  /**
   * One document as an in-toto statement about {@code subject}, signed: the DSSE envelope, whose
   * payload is the statement.
   *
   * @param subject the manifest digest the statement is about
   * @param document the document (an SBOM, the provenance)
   * @param predicateType the statement's predicate type (cosign's {@code --type})
   * @param envelope the DSSE envelope JSON, payload type {@link Dsse#IN_TOTO}
   */
  public record Attested(
      Digest subject, Attestation document, String predicateType, byte[] envelope) {
    public Attested {
      Objects.requireNonNull(subject, "subject");
      Objects.requireNonNull(document, "document");
      Objects.requireNonNull(predicateType, "predicateType");
      envelope = envelope.clone();
    }

    @Override
    public byte[] envelope() {
      return envelope.clone();
    }
  }
}
