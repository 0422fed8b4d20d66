package dev.kiln;

import dev.kiln.internal.graph.BakeFailures;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;

/**
 * A bake that returned once every target held the image ({@link Kiln#bakeEarly}), while the local
 * store may still be catching up: compressing the layers it wrote, committing their keys,
 * assembling the image and writing its record. {@link #result()} completes with the whole {@link
 * BakeResult} once that is done (at once when the targets could not hold the image before, see
 * {@link #returnedEarly()}); {@link Kiln#close()} waits for it. Thread-safe.
 */
public final class EarlyBake {
  private final Digest imageId;
  private final List<String> targets;
  private final CompletableFuture<BakeResult> result;
  private final boolean early;

  EarlyBake(
      Digest imageId, List<String> targets, CompletableFuture<BakeResult> result, boolean early) {
    this.imageId = imageId;
    this.targets = List.copyOf(targets);
    this.result = result;
    this.early = early;
  }

  /**
   * The digest of the image's config, which every target holds by now: the Docker daemon's image id
   * ({@code docker images --no-trunc}).
   */
  public Digest imageId() {
    return imageId;
  }

  /** The targets that hold the image, as written. */
  public List<String> targets() {
    return targets;
  }

  /**
   * Whether the bake returned before the store had the image: the targets named it while its blobs
   * were still being compressed. False when it returned with its whole result (a target that is not
   * the Docker daemon, a build of several platforms, an image found in the store, a load the daemon
   * took the usual way).
   */
  public boolean returnedEarly() {
    return early;
  }

  /**
   * The whole result of the bake, once the store holds the image and its record (the image digest,
   * the layers' blobs, what each target holds). It fails as {@link Kiln#bake} would have, with a
   * {@link BakeException}; the targets keep the image they named, whose layers they checked against
   * its config's diffIDs.
   */
  public CompletionStage<BakeResult> result() {
    return result.copy();
  }

  /** Whether the store has caught up (or failed to). */
  public boolean isDone() {
    return result.isDone();
  }

  /** Waits for the whole result ({@link #result()}) and returns it, or throws its failure. */
  public BakeResult await() throws BakeException {
    try {
      return result.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BakeException("interrupted while waiting for the bake of " + imageId, e);
    } catch (ExecutionException | CompletionException | CancellationException e) {
      throw BakeFailures.unwrap(e.getCause() != null ? e.getCause() : e);
    }
  }
}
