package dev.kiln.internal.graph;

import dev.kiln.BakeException;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one bake call owns and releases at its end: its temp directories, its background pushes to
 * the remote cache, and the layer pool its steps run on. Thread-safe.
 */
final class BakeScope {
  private static final Logger log = LoggerFactory.getLogger(BakeScope.class);

  private final Services services;
  private final List<CompletableFuture<Void>> pushes = new CopyOnWriteArrayList<>();
  private final List<Path> tempDirs = new CopyOnWriteArrayList<>();
  private final List<Closeable> closeAtEnd = new CopyOnWriteArrayList<>();

  BakeScope(Services services) {
    this.services = services;
  }

  /** A new temp directory in the store, removed when the bake ends. */
  Path tempDir() throws IOException {
    Path d = services.store().newTempDirectory();
    tempDirs.add(d);
    return d;
  }

  /** Closes {@code c} when the bake ends. */
  void onCleanUp(Closeable c) {
    closeAtEnd.add(c);
  }

  void addPush(CompletableFuture<Void> push) {
    pushes.add(push);
  }

  /**
   * Waits for the pushes of this bake (each is bounded by the guard's timeouts); a failed push
   * fails nothing.
   */
  void awaitPushes() {
    for (CompletableFuture<Void> f : pushes) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (ExecutionException e) {
        log.warn("a push to the remote cache failed: {}", e.getCause().toString());
      }
    }
  }

  void cleanUp() {
    for (Closeable c : closeAtEnd) {
      try {
        c.close();
      } catch (IOException | RuntimeException e) {
        log.debug("could not close {}: {}", c, e.toString());
      }
    }
    for (CompletableFuture<Void> f : pushes) {
      f.cancel(
          true); // a failed bake does not wait for its pushes (a finished one has awaited them)
    }
    for (Path d : tempDirs) {
      // a layer writer of a failed bake may still be deleting its own files in here: a file that
      // is gone by the time the walk reaches it is no error, and nothing here may hide the error
      // the
      // bake failed with
      try (var s = Files.walk(d)) {
        s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException | UncheckedIOException e) {
        log.debug("could not remove {}: {}", d, e.toString());
        try (var s = Files.walk(d)) {
          s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException again) {
          log.debug("could not remove {} on the second try: {}", d, again.toString());
        }
      }
    }
  }

  /** Runs a step on the layer pool. */
  <T> CompletableFuture<T> async(Step<T> c) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return c.call();
          } catch (BakeException e) {
            throw new CompletionException(e);
          }
        },
        services.layerPool());
  }

  /** A piece of work that may fail with a bake exception. */
  @FunctionalInterface
  interface Step<T> {
    T call() throws BakeException;
  }

  /**
   * The result of a future, with the bake exception (or runtime exception, or error) it failed with
   * unwrapped.
   */
  static <T> T join(CompletableFuture<T> f) throws BakeException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BakeException("interrupted", e);
    } catch (ExecutionException e) {
      throw BakeFailures.unwrap(e.getCause());
    }
  }
}
