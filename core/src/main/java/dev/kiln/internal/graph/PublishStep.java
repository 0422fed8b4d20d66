package dev.kiln.internal.graph;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.google.common.base.Stopwatch;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.PublishedImage;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.PublishContext;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Step 7: publishes an image to each of its targets in parallel (a target that already holds it is
 * reused) and records each publication in the store.
 */
final class PublishStep {
  private static final Logger log = LoggerFactory.getLogger(PublishStep.class);

  private final Services services;
  private final BakeScope scope;
  private final Contexts contexts;

  PublishStep(Services services, BakeScope scope, Contexts contexts) {
    this.services = services;
    this.scope = scope;
    this.contexts = contexts;
  }

  Map<String, PublishedImage> run(StoredImage image, Map<String, ImageStore> targets)
      throws BakeException {
    return each(
        image.digest(),
        targets,
        (store, pc) -> {
          Optional<PublishedImage> found = store.find(image, pc);
          return found.isPresent() ? found.get().asReused() : store.publish(image, pc);
        });
  }

  /** Publishes a multi-platform image to each target (every one takes an index). */
  Map<String, PublishedImage> runIndex(StoredIndex index, Map<String, ImageStore> targets)
      throws BakeException {
    return each(
        index.digest(),
        targets,
        (store, pc) -> {
          Optional<PublishedImage> found = store.findIndex(index, pc);
          return found.isPresent() ? found.get().asReused() : store.publishIndex(index, pc);
        });
  }

  private interface PublishAction {
    PublishedImage publish(ImageStore store, PublishContext pc) throws BakeException;
  }

  private Map<String, PublishedImage> each(
      Digest digest, Map<String, ImageStore> targets, PublishAction publication)
      throws BakeException {
    Map<String, CompletableFuture<PublishedImage>> fs = new LinkedHashMap<>();
    PublishContext pc = contexts.publishContext();
    for (Map.Entry<String, ImageStore> t : targets.entrySet()) {
      fs.put(
          t.getKey(),
          scope.async(
              () -> {
                Stopwatch sw = Stopwatch.createStarted();
                PublishedImage p = publication.publish(t.getValue(), pc);
                services.emit(
                    new BakeEvent.ImagePublished(
                        t.getKey(), digest, p.reused(), p.details().toString(), sw.elapsed()));
                record(digest, t.getKey(), p);
                return p;
              }));
    }
    Map<String, PublishedImage> out = new LinkedHashMap<>();
    for (Map.Entry<String, CompletableFuture<PublishedImage>> f : fs.entrySet()) {
      out.put(f.getKey(), BakeScope.join(f.getValue()));
    }
    return out;
  }

  /**
   * A publication record ({@code records/<image>/<target hash>.json}): the target as written, the
   * image, whether the target already held it, when, and what the target said it holds. {@code kiln
   * inspect} and {@code kiln images} read it; the properties keep this order.
   */
  @JsonPropertyOrder({"target", "image", "reused", "at", "details"})
  record Publication(
      String target, Digest image, boolean reused, String at, Map<String, String> details) {}

  private void record(Digest image, String target, PublishedImage p) {
    Publication rec =
        new Publication(target, image, p.reused(), Instant.now().toString(), p.details());
    try {
      services
          .store()
          .writeTargetRecord(
              image,
              target + " " + Instant.now() + " " + System.nanoTime(),
              Json.mapper().valueToTree(rec));
    } catch (IOException e) {
      log.warn("could not record publication to {}: {}", target, e.toString());
    }
  }
}
