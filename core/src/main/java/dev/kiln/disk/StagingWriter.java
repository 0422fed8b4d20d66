package dev.kiln.disk;

import java.io.IOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;

/**
 * Host file system changes of {@link Staging} (create, write, link), done in order by one
 * background thread while the reading thread parses the next entries, so that parsing and the
 * system calls overlap. Anything that reads the host tree waits for the queue to drain first. The
 * first failure is reported by the next call.
 */
final class StagingWriter {
  /** One host file system change. */
  interface Op {
    void run() throws IOException;
  }

  /** Bytes of file content queued for the writer at most. */
  private static final int QUEUE_KIB = 96 << 10;

  private record Job(Op op, int kib) {}

  private static final Job STOP = new Job(() -> {}, 0);
  private final BlockingQueue<Job> queue = new LinkedBlockingQueue<>();
  private final Semaphore budget = new Semaphore(QUEUE_KIB);
  private final Thread thread;
  private volatile IOException failure;

  StagingWriter() {
    thread = new Thread(this::loop, "kiln-disk-staging");
    thread.setDaemon(true);
    thread.start();
  }

  private void loop() {
    while (true) {
      Job j;
      try {
        j = queue.take();
      } catch (InterruptedException e) {
        return;
      }
      if (j == STOP) {
        return;
      }
      try {
        if (failure == null) {
          j.op().run();
        }
      } catch (IOException | RuntimeException e) {
        failure = e instanceof IOException io ? io : new IOException(e.toString(), e);
      } finally {
        budget.release(j.kib());
      }
    }
  }

  /** Queues {@code op}, which holds {@code kib} KiB of file content, waiting for room if needed. */
  void submit(Op op, int kib) throws IOException {
    check();
    try {
      budget.acquire(kib);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while staging", e);
    }
    queue.add(new Job(op, kib));
  }

  /** Waits until everything queued is done. */
  void drain() throws IOException {
    CountDownLatch done = new CountDownLatch(1);
    submit(done::countDown, 0);
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while staging", e);
    }
    check();
  }

  /** Ends the thread once what is queued is done. */
  void stop() {
    queue.add(STOP);
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void check() throws IOException {
    IOException f = failure;
    if (f != null) {
      throw new IOException("could not stage a file: " + f.getMessage(), f);
    }
  }
}
