package dev.kiln.spi;

import dev.kiln.BakeException;
import dev.kiln.PublishedImage;

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
}
