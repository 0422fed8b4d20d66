package dev.kiln.internal.graph;

import dev.kiln.Digest;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A bake that returns to its caller once its targets hold the image ({@code Kiln.bakeEarly}):
 * completes with the image's config digest when every target has named the image, before it is
 * assembled ({@link dev.kiln.spi.ImageTars#named}). Never completes when a target does not name it
 * early: the caller then waits for the whole bake. Thread-safe.
 */
final class EarlyNaming {
  private final Set<String> targets;
  private final Set<String> named = ConcurrentHashMap.newKeySet();
  private final CompletableFuture<Digest> all = new CompletableFuture<>();

  EarlyNaming(Collection<String> targets) {
    this.targets = Set.copyOf(targets);
  }

  /** {@code target} holds the image of {@code config} under its name. */
  void named(String target, Digest config) {
    if (targets.contains(target) && named.add(target) && named.containsAll(targets)) {
      all.complete(config);
    }
  }

  /** Completes with the config digest once every target has named the image. */
  CompletableFuture<Digest> whenNamed() {
    return all;
  }
}
