package dev.kiln.internal.remote;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import dev.kiln.Digest;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.RemoteCache;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The remote cache as the engine (and, through {@code
 * PublishContext.capability(RemoteCache.class)}, the providers) use it: the mode applied, every
 * call bounded by a timeout on a thread of its own, and a circuit breaker. The first failure or
 * timeout logs once, emits {@link BakeEvent.RemoteCacheUnavailable}, and turns the remote off until
 * the next bake starts: reads then answer "not there", writes are skipped. A remote that is down or
 * slow never fails a bake; it only makes the bake provision locally.
 *
 * <p>Blob transfers are bounded by progress, not by size: one fails when no byte has moved for the
 * operation timeout, or when it has run longer than the transfer timeout. Thread-safe; concurrent
 * bakes of one Kiln share the breaker (a bake that starts turns the remote on again for all).
 */
public final class GuardedRemoteCache implements RemoteCache {
  private static final Logger log = LoggerFactory.getLogger(GuardedRemoteCache.class);

  private final RemoteCache remote;
  private final Mode mode;
  private final Duration timeout;
  private final Duration transferTimeout;
  private final Consumer<BakeEvent> events;
  private final ExecutorService pool;
  private final AtomicReference<String> down = new AtomicReference<>();
  private final AtomicInteger failures = new AtomicInteger();
  private final AtomicInteger skipped = new AtomicInteger();
  private final List<Future<?>> touches = new CopyOnWriteArrayList<>();

  public GuardedRemoteCache(
      RemoteCache remote,
      Mode mode,
      Duration timeout,
      Duration transferTimeout,
      Consumer<BakeEvent> events) {
    this.remote = remote;
    this.mode = mode;
    this.timeout = timeout;
    this.transferTimeout = transferTimeout;
    this.events = events;
    this.pool =
        Executors.newCachedThreadPool(
            new ThreadFactoryBuilder().setNameFormat("kiln-remote-%d").setDaemon(true).build());
  }

  /** A new bake asks the remote again, whatever happened in the last one. */
  public void startBake() {
    failures.set(0);
    skipped.set(0);
    String was = down.getAndSet(null);
    if (was != null) {
      log.info(
          "remote cache {}: trying it again for this bake (last bake: {})", remote.describe(), was);
    }
  }

  /**
   * Waits (up to the call timeout) for the last-use records of the entries this bake read, then
   * logs what the bake did with the remote (failures, calls skipped after it went down).
   */
  public void endBake() {
    awaitTouches();
    if (down.get() != null) {
      log.warn(
          "remote cache {} was unavailable in this bake ({}); {} calls failed, {} skipped",
          remote.describe(),
          down.get(),
          failures.get(),
          skipped.get());
    }
  }

  Mode mode() {
    return mode;
  }

  /** Whether this bake looks things up in the remote: the mode reads and the remote is not down. */
  public boolean reads() {
    return mode.reads() && down.get() == null;
  }

  /** Whether this bake writes to the remote: the mode writes and the remote is not down. */
  public boolean writes() {
    return mode.writes() && down.get() == null;
  }

  /** Whether the remote failed in this bake. */
  public boolean isDown() {
    return down.get() != null;
  }

  public int failures() {
    return failures.get();
  }

  @Override
  public String describe() {
    return remote.describe();
  }

  @Override
  public boolean hasBlob(Digest digest) {
    if (!reads() && !writes()) {
      skipped.incrementAndGet();
      return false;
    }
    return call("look up blob " + digest.shortHex(), () -> remote.hasBlob(digest)).orElse(false);
  }

  @Override
  public Optional<byte[]> getEntry(String namespace, String key) {
    RemoteCache.checkEntryName(namespace, key);
    if (!reads()) {
      skipped.incrementAndGet();
      return Optional.empty();
    }
    Optional<byte[]> found =
        call("look up " + namespace + "/" + abbrev(key), () -> remote.getEntry(namespace, key))
            .flatMap(o -> o);
    if (found.isPresent()) {
      touchLater(namespace, key);
    }
    return found;
  }

  /**
   * Records in the background that an entry was just read, so that retention keeps it ({@link
   * RemoteCache#touch}); only where this bake writes, since recording a use is a write. A touch
   * that fails is logged and forgotten: it neither fails the bake nor turns the remote off.
   */
  private void touchLater(String namespace, String key) {
    if (!writes()) {
      return;
    }
    Instant now = Instant.now();
    try {
      touches.add(
          pool.submit(
              () -> {
                try {
                  remote.touch(namespace, key, now);
                } catch (IOException | RuntimeException e) {
                  log.debug(
                      "remote cache {}: could not record the use of {}/{}: {}",
                      remote.describe(),
                      namespace,
                      abbrev(key),
                      e.toString());
                }
                return null;
              }));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed
    }
  }

  private void awaitTouches() {
    List<Future<?>> pending = new ArrayList<>(touches);
    touches.removeAll(pending);
    long deadline = System.nanoTime() + timeout.toNanos();
    for (Future<?> f : pending) {
      try {
        f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        f.cancel(true);
      } catch (ExecutionException e) {
        // logged by the touch itself
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * Whether the remote holds the entry, asked even in write-only mode (to decide whether to push).
   */
  public Optional<Boolean> hasEntry(String namespace, String key) {
    if (isDown()) {
      skipped.incrementAndGet();
      return Optional.empty();
    }
    return call(
        "look up " + namespace + "/" + abbrev(key),
        () -> remote.getEntry(namespace, key).isPresent());
  }

  @Override
  public void putEntry(String namespace, String key, byte[] json, Optional<BlobRef> blob)
      throws IOException {
    RemoteCache.checkEntryName(namespace, key);
    if (!writes()) {
      skipped.incrementAndGet();
      throw new IOException("remote cache " + describe() + " is not written in this bake");
    }
    Optional<Boolean> ok =
        call(
            "write " + namespace + "/" + abbrev(key),
            () -> {
              remote.putEntry(namespace, key, json, blob);
              return true;
            });
    if (ok.isEmpty()) {
      throw new IOException("remote cache " + describe() + " is unavailable: " + down.get());
    }
  }

  @Override
  public void fetchBlob(Digest digest, Path dest, LongConsumer progress) throws IOException {
    if (!reads()) {
      skipped.incrementAndGet();
      throw new IOException("remote cache " + describe() + " is not read in this bake");
    }
    transfer(
        "download blob " + digest.shortHex(),
        p -> {
          remote.fetchBlob(digest, dest, p.andThen(progress));
          return 0L;
        });
  }

  @Override
  public long pushBlob(Digest digest, long size, String mediaType, Path file, LongConsumer progress)
      throws IOException {
    if (!writes()) {
      skipped.incrementAndGet();
      throw new IOException("remote cache " + describe() + " is not written in this bake");
    }
    return transfer(
        "upload blob " + digest.shortHex(),
        p -> remote.pushBlob(digest, size, mediaType, file, p.andThen(progress)));
  }

  @Override
  public void close() throws IOException {
    pool.shutdownNow();
    remote.close();
  }

  // ---- bounded calls ----

  private <T> Optional<T> call(String what, Callable<T> c) {
    Future<T> f;
    try {
      f = pool.submit(c);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      return Optional.empty(); // closed
    }
    try {
      return Optional.ofNullable(f.get(timeout.toMillis(), TimeUnit.MILLISECONDS));
    } catch (TimeoutException e) {
      f.cancel(true);
      trip(what, "no answer in " + timeout.toSeconds() + " s");
    } catch (ExecutionException e) {
      trip(what, String.valueOf(e.getCause()));
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
    }
    return Optional.empty();
  }

  private interface Transfer {
    long run(LongConsumer progress) throws Exception;
  }

  /**
   * Runs a transfer, failing it when it makes no progress for the timeout or runs past the transfer
   * timeout.
   */
  private long transfer(String what, Transfer t) throws IOException {
    AtomicLong lastProgress = new AtomicLong(System.nanoTime());
    LongConsumer touch = n -> lastProgress.set(System.nanoTime());
    Future<Long> f;
    try {
      f = pool.submit(() -> t.run(touch));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      throw new IOException("remote cache closed");
    }
    long start = System.nanoTime();
    try {
      while (true) {
        try {
          return f.get(Math.min(1000, timeout.toMillis()), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          long now = System.nanoTime();
          String reason = null;
          if (now - lastProgress.get() > timeout.toNanos()) {
            reason = "no progress for " + timeout.toSeconds() + " s";
          } else if (now - start > transferTimeout.toNanos()) {
            reason = "not done after " + transferTimeout.toSeconds() + " s";
          }
          if (reason != null) {
            f.cancel(true);
            trip(what, reason);
            throw new IOException("remote cache " + describe() + ": " + what + ": " + reason);
          }
        }
      }
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof FileNotFoundException fnf) {
        throw fnf; // the remote answered: the blob is not there (an entry without its blob); not an
        // outage
      }
      trip(what, String.valueOf(cause));
      throw new IOException(
          "remote cache " + describe() + ": " + what + " failed: " + cause, cause);
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while the remote cache was asked to " + what);
    }
  }

  private void trip(String what, String reason) {
    failures.incrementAndGet();
    if (down.compareAndSet(null, what + ": " + reason)) {
      log.warn(
          "remote cache {} is unavailable ({}: {}); this bake goes on without it",
          remote.describe(),
          what,
          reason);
      events.accept(new BakeEvent.RemoteCacheUnavailable(remote.describe(), what, reason));
    } else {
      log.debug("remote cache {}: {} failed too: {}", remote.describe(), what, reason);
    }
  }

  private static String abbrev(String key) {
    return key.length() > 16 ? key.substring(0, 12) : key;
  }
}
