package dev.kiln.internal.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Takes a file lock, blocking, through the kernel's false deadlock reports. Linux checks a POSIX
 * lock request against a wait-for graph of processes, not threads: when a thread of this process
 * waits for a lock another process holds, and that process waits (through any chain) for a lock a
 * different thread of this process holds, the request fails with EDEADLK ("Resource deadlock
 * avoided") although the thread holding it needs nothing and will let it go. Kiln's store threads
 * hold no other store file lock while they wait for one, so such a report is never a real cycle:
 * the request is made again after a short, random pause.
 */
final class FileLocks {
  /** How a lock is asked for; a test gives its own. */
  interface Request {
    FileLock lock() throws IOException;
  }

  private FileLocks() {}

  /** The exclusive ({@code shared} false) or shared lock of the whole file. */
  static FileLock lock(FileChannel ch, boolean shared) throws IOException {
    return lock(() -> ch.lock(0, Long.MAX_VALUE, shared));
  }

  static FileLock lock(Request request) throws IOException {
    for (int attempt = 0; ; attempt++) {
      try {
        return request.lock();
      } catch (IOException e) {
        if (!falseDeadlock(e)) {
          throw e;
        }
        pause(attempt);
      }
    }
  }

  /** Whether this is the kernel's EDEADLK, which the JDK reports only by its message. */
  static boolean falseDeadlock(IOException e) {
    String m = e.getMessage();
    return m != null && m.toLowerCase(java.util.Locale.ROOT).contains("deadlock");
  }

  private static void pause(int attempt) throws IOException {
    long max = Math.min(100, 2L << Math.min(attempt, 6));
    try {
      Thread.sleep(1 + ThreadLocalRandom.current().nextLong(max));
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while waiting for a store lock");
    }
  }
}
