package dev.kiln.internal.graph;

import dev.kiln.Attestation;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.LayerNotes;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The notes the attestor took on the layers one bake wrote, by diffID and layer kind, so that the
 * bake's SBOMs never read those layers back. Kept in memory for the bake only: a layer this bake
 * did not write (a cache hit, a pulled base) has none, and the attestor reads it. Thread-safe.
 */
final class LayerNotesBook {
  private record Key(Digest diffId, String kind) {}

  private final Attestor attestor;
  private final Map<Key, LayerNotes> notes = new ConcurrentHashMap<>();

  /** A book for the bake's configuration: empty and never filled unless SBOMs are asked for. */
  LayerNotesBook(Engine.AttestConfig config) {
    boolean sbom =
        config != null
            && (config.kinds().contains(Attestation.Kind.SPDX)
                || config.kinds().contains(Attestation.Kind.CYCLONEDX));
    this.attestor = sbom ? config.attestor() : null;
  }

  /** A note taker for a layer of {@code kind} about to be written, or null when none is wanted. */
  LayerNotes taker(String kind) {
    return attestor == null ? null : attestor.notes(kind);
  }

  /** Keeps the notes on a layer that was written (the last one of a diffID and kind wins). */
  void put(Digest diffId, String kind, LayerNotes taken) {
    notes.put(new Key(diffId, kind), taken);
  }

  /** The notes on {@code layer}, if this bake wrote a layer of its diffID and kind. */
  Optional<LayerNotes> get(LayerRecord layer) {
    return Optional.ofNullable(notes.get(new Key(layer.diffId(), layer.kind())));
  }
}
