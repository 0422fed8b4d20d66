package dev.kiln.internal.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lock request the kernel refuses as a deadlock (EDEADLK, which Linux reports for a cycle of
 * processes that is no cycle of threads) is made again until it is granted; other failures are not.
 */
class FileLocksTest {
  @TempDir Path dir;

  @Test
  void aFalseDeadlockReportIsRetriedUntilTheLockIsGranted() throws Exception {
    try (FileChannel ch =
        FileChannel.open(
            dir.resolve("x.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      AtomicInteger calls = new AtomicInteger();
      FileLock l =
          FileLocks.lock(
              () -> {
                if (calls.incrementAndGet() <= 3) {
                  throw new IOException("Resource deadlock avoided");
                }
                return ch.lock();
              });
      assertThat(calls).hasValue(4);
      assertThat(l.isValid()).isTrue();
      l.release();
    }
  }

  @Test
  void otherFailuresAreNotRetried() {
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(
            () ->
                FileLocks.lock(
                    () -> {
                      calls.incrementAndGet();
                      throw new IOException("No locks available");
                    }))
        .hasMessage("No locks available");
    assertThat(calls).hasValue(1);
  }
}
