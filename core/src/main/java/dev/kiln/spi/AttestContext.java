package dev.kiln.spi;

import dev.kiln.Attestation;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** What an {@link Attestor} is given about one baked image. */
public interface AttestContext {

  /** The image as stored: manifest, config, layers with their records, and their blobs. */
  ImageView image();

  /** The documents asked for. */
  Set<Attestation.Kind> kinds();

  /**
   * The base as the image record names it: {@code scratch}, {@code rootfs}, {@code oci LAYOUT:TAG},
   * {@code image REF@DIGEST}, …
   */
  String base();

  /** What each target of this bake holds (an AMI id, a template, a file), by target as written. */
  Map<String, PublishedImage> published();

  /**
   * The build's fixed time ({@code SOURCE_DATE_EPOCH}, as in the layers and the image config): the
   * only time a document may carry.
   */
  Instant buildTime();

  /** Reports something the documents could not say in full, as a {@code Warning} event. */
  void warn(String message);

  /**
   * The notes the attestor's {@link Attestor#notes} took while this bake wrote {@code layer} (same
   * diffID, same kind), or empty when this bake did not write it (a cache hit, a pulled base, a
   * layer another process stored first): then the layer is to be read from {@link #image()}.
   */
  default Optional<LayerNotes> notes(LayerRecord layer) {
    return Optional.empty();
  }
}
