package dev.kiln.spi;

import dev.kiln.Attestation;
import java.io.IOException;
import java.util.List;

/**
 * Writes the documents about a baked image that {@code Kiln.builder().sbom(…)} and {@code
 * .provenance(true)} ask for: SBOMs and provenance. Found with {@link java.util.ServiceLoader} (the
 * {@code kiln-sbom} module provides one) or given to {@code Kiln.builder().attestor(…)}. Called
 * once per image and bake, after the image is published, only when a document is asked for.
 *
 * <p>What the image holds never fails the bake: a package database that cannot be read, a broken
 * jar, too many files are reported through {@link AttestContext#warn} and the document lists what
 * could be read. An {@link IOException} (the store could not be read) fails the bake.
 * Implementations must be thread-safe and give the same bytes for the same image, base and
 * publications.
 */
public interface Attestor {

  /** The documents of {@link AttestContext#kinds()}, each once. */
  List<Attestation> attest(AttestContext ctx) throws IOException;

  /**
   * A note taker for a layer of {@code layerKind} ({@code files}, {@code rootfs}, …) that this bake
   * is about to write, when SBOMs are asked for, or null (the default) to take none: {@link
   * #attest} then reads the layers it needs from the store. Kiln gives the notes back through
   * {@link AttestContext#notes} for the layer of the diffID the writer produced.
   */
  default LayerNotes notes(String layerKind) {
    return null;
  }
}
