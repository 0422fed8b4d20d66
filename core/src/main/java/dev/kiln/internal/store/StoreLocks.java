package dev.kiln.internal.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The store's named locks, {@code locks/<name>.lock}: a file lock across processes, with a lock of
 * this JVM around it (a file lock belongs to the process, so threads of one process would share
 * it). Thread-safe.
 */
final class StoreLocks {
  private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

  private final Path dir;

  StoreLocks(Path dir) {
    this.dir = dir;
  }

  /**
   * Takes the named lock, across threads of this JVM and across processes. Blocks until it is free.
   */
  LocalStore.StoreLock lock(String name) throws IOException {
    Path p = dir.resolve(name + ".lock");
    ReentrantLock jvm = JVM_LOCKS.computeIfAbsent(p, k -> new ReentrantLock());
    jvm.lock();
    try {
      FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      try {
        FileLock fl = FileLocks.lock(ch, false);
        return () -> {
          try {
            fl.release();
            ch.close();
          } finally {
            jvm.unlock();
          }
        };
      } catch (IOException | RuntimeException e) {
        ch.close();
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      jvm.unlock();
      throw e;
    }
  }
}
