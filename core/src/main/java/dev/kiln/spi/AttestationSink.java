package dev.kiln.spi;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.PublishedImage;
import java.util.List;
import java.util.Map;

/**
 * An {@link ImageStore} whose target can hold what Kiln attaches to an image when {@code
 * Kiln.builder().signWith(…)} gives a signer: a signature of the image and its SBOMs and provenance
 * as signed DSSE envelopes ({@link Attachments}). A registry and an OCI layout hold them beside the
 * image as cosign does (tags {@code sha256-<hex>.sig} and {@code .att}) and as OCI 1.1 referrers.
 *
 * <p>Called once per target and image after the target published it (or found it there), and after
 * the documents were written. Attaching is idempotent: what the target already holds of it is kept,
 * and other signers' signatures are never removed. A failure fails the bake: a target that says it
 * published holds what Kiln says it signed. Implementations must be thread-safe.
 */
public interface AttestationSink {

  /**
   * Makes the target hold {@code attachments} beside {@code published}, the image (or index) this
   * store reported.
   */
  void attach(PublishedImage published, Attachments attachments, PublishContext context)
      throws BakeException;

  /**
   * What the target holds, for {@code Kiln.verify}: the image (or index) its reference names, and
   * the signature and attestation layers attached to it and, for an index, to each of its images.
   * By default a sink cannot read them back, and {@code Kiln.verify} says so.
   */
  default Attached read(PublishContext context) throws BakeException {
    throw new BakeException(
        getClass().getName() + " cannot read back what it attached: Kiln cannot verify its target");
  }

  /**
   * The image a target holds and what is attached to it.
   *
   * @param manifest the bytes of the manifest or index the target's reference names
   * @param mediaType its media type
   * @param signatures the layers of its signature manifest ({@code .sig}), none when unsigned
   * @param attestations the layers of the attestation manifest ({@code .att}) of the image and, for
   *     an index, of each image in it, by manifest digest
   */
  record Attached(
      byte[] manifest,
      String mediaType,
      List<CosignManifests.Layer> signatures,
      Map<Digest, List<CosignManifests.Layer>> attestations) {
    public Attached {
      manifest = manifest.clone();
      signatures = List.copyOf(signatures);
      attestations = Map.copyOf(attestations);
    }

    @Override
    public byte[] manifest() {
      return manifest.clone();
    }

    public Digest image() {
      return Digest.of(manifest);
    }
  }
}
