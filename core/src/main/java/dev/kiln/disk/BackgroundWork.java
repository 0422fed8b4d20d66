package dev.kiln.disk;

import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The threads of one build that run next to its main steps (hashing layers, building the ESP,
 * copying the disk, deleting the staging directory): daemon threads, each result read back with its
 * exception as thrown, all stopped when the build ends.
 */
final class BackgroundWork {
  private static final ThreadFactory DAEMON =
      r -> {
        Thread t = new Thread(r, "kiln-disk");
        t.setDaemon(true);
        return t;
      };

  private final ExecutorService pool = Executors.newCachedThreadPool(DAEMON);

  /** Starts {@code task} on a thread of its own. */
  <T> Future<T> submit(Callable<T> task) {
    return pool.submit(task);
  }

  /** The result of background work, with its exception unwrapped. */
  static <T> T get(Future<T> f) throws IOException, DiskException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DiskException("interrupted", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof DiskException d) {
        throw d;
      } else if (c instanceof IOException io) {
        throw io;
      } else if (c instanceof RuntimeException r) {
        throw r;
      } else if (c instanceof Error err) {
        throw err;
      }
      throw new DiskException(c.toString(), c);
    }
  }

  /** Interrupts what still runs and waits for it to stop (30 s at most). */
  void shutdown() {
    pool.shutdownNow();
    try {
      pool.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
