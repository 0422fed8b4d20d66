package dev.kiln.internal.graph;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Attestation;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.AttestContext;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerNotes;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Step 8, only when {@code Kiln.builder().sbom(…)} or {@code .provenance(true)} asked for it: has
 * the attestor write the image's SBOMs and provenance, keeps each document in the store as a blob
 * and lists them in a record beside the image's publications ({@code records/<image>/}). The
 * attestor finds the notes it took on the layers this bake wrote ({@link LayerNotesBook}). Off, it
 * does nothing at all.
 */
final class AttestStep {
  private final Services services;
  private final LayerNotesBook notes;

  AttestStep(Services services, LayerNotesBook notes) {
    this.services = services;
    this.notes = notes;
  }

  List<Attestation> run(StoredImage image, Chain c, Map<String, PublishedImage> published)
      throws BakeException {
    Engine.AttestConfig config = services.attest();
    if (config == null || config.kinds().isEmpty()) {
      return List.of();
    }
    Map<Attestation.Kind, Attestation> docs = new EnumMap<>(Attestation.Kind.class);
    try {
      for (Attestation a : config.attestor().attest(context(image, c, published, config.kinds()))) {
        if (config.kinds().contains(a.kind()) && docs.putIfAbsent(a.kind(), a) != null) {
          throw new BakeException(
              "the attestor " + config.attestor() + " wrote two " + a.kind() + " documents");
        }
      }
      if (!docs.keySet().equals(config.kinds())) {
        throw new BakeException(
            "the attestor "
                + config.attestor()
                + " wrote "
                + docs.keySet()
                + " of the documents asked for, "
                + config.kinds());
      }
      for (Attestation a : docs.values()) {
        Digest stored = services.store().putBlob(a.content());
        if (!stored.equals(a.digest())) {
          throw new IOException("the " + a.kind() + " document was stored as " + stored);
        }
      }
      record(image.digest(), docs.values());
    } catch (IOException | RuntimeException e) {
      throw new BakeException(
          "could not write the SBOM or provenance of image " + image.digest() + ": " + e, e);
    }
    return List.copyOf(docs.values());
  }

  private AttestContext context(
      StoredImage image, Chain c, Map<String, PublishedImage> published, Set<Attestation.Kind> k) {
    Instant time = Instant.ofEpochSecond(services.mtime());
    return new AttestContext() {
      @Override
      public ImageView image() {
        return image;
      }

      @Override
      public Set<Attestation.Kind> kinds() {
        return Set.copyOf(k);
      }

      @Override
      public String base() {
        return c.baseDescription();
      }

      @Override
      public Map<String, PublishedImage> published() {
        return Map.copyOf(published);
      }

      @Override
      public Instant buildTime() {
        return time;
      }

      @Override
      public void warn(String message) {
        services.warn("image " + image.digest().shortHex() + ": " + message);
      }

      @Override
      public Optional<LayerNotes> notes(LayerRecord layer) {
        return notes.get(layer);
      }
    };
  }

  /** Lists the documents beside the image's publications, once per set of documents. */
  private void record(Digest image, java.util.Collection<Attestation> docs) throws IOException {
    ObjectNode rec = Json.object();
    rec.put("image", image.toString()).put("at", Instant.now().toString());
    ArrayNode list = rec.putArray("attestations");
    List<String> digests = new ArrayList<>();
    for (Attestation a : docs) {
      list.addObject()
          .put("kind", a.kind().name().toLowerCase(java.util.Locale.ROOT))
          .put("mediaType", a.mediaType())
          .put("digest", a.digest().toString())
          .put("size", a.content().length);
      digests.add(a.digest().toString());
    }
    services
        .store()
        .writeTargetRecord(
            image, "attestations " + digests.stream().collect(Collectors.joining(" ")), rec);
  }
}
