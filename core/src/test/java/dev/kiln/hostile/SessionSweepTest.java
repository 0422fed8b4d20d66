package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.internal.store.LocalStore;
import dev.kiln.testing.Jvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two stores open on one directory in one JVM (two {@code Kiln}s of one service): the second one's
 * sweep of stale sessions must not release the first one's session lock, or another process's sweep
 * deletes a live temp area.
 */
class SessionSweepTest {
  @TempDir Path tmp;

  /**
   * Opens the store given as argument and closes it again: its sweep removes every session whose
   * lock is free.
   */
  public static final class OpenAndClose {
    public static void main(String[] args) throws Exception {
      LocalStore.open(Path.of(args[0])).close();
    }
  }

  @Test
  void aSecondStoreInOneJvmLeavesTheFirstOnesSessionLocked() throws Exception {
    Path root = tmp.resolve("store");
    try (LocalStore first = LocalStore.open(root)) {
      Path live = first.newTempDirectory();
      Files.writeString(live.resolve("half-written"), "in use");
      try (LocalStore second = LocalStore.open(root)) {
        Process p = Jvm.start(OpenAndClose.class, tmp.resolve("child.log"), root.toString());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the child process ended").isTrue();
        assertThat(p.exitValue())
            .as("child exit; log: %s", Files.readString(tmp.resolve("child.log")))
            .isZero();
        assertThat(live.resolve("half-written"))
            .as("a live session's temp file after another process's sweep")
            .exists();
        assertThat(second.newTempDirectory()).exists();
      }
    }
  }

  /**
   * What a process killed while it opened the store leaves: a lock file alone, or an old directory
   * alone.
   */
  @Test
  void whatAKilledOpenLeavesIsSweptAndNothingElse() throws Exception {
    Path root = tmp.resolve("store");
    LocalStore.open(root).close();
    Path tmpRoot = root.resolve("tmp");
    Path lockAlone = Files.createFile(tmpRoot.resolve("11111111-1111-1111-1111-111111111111.lock"));
    Path oldOrphan =
        Files.createDirectories(tmpRoot.resolve("22222222-2222-2222-2222-222222222222/d1"));
    Files.setLastModifiedTime(
        oldOrphan.getParent(), FileTime.fromMillis(System.currentTimeMillis() - 3_600_000L));
    Path newOrphan =
        Files.createDirectories(tmpRoot.resolve("33333333-3333-3333-3333-333333333333"));
    LocalStore.open(root).close();
    assertThat(lockAlone).doesNotExist();
    assertThat(oldOrphan.getParent())
        .as("a directory left without its lock an hour ago")
        .doesNotExist();
    assertThat(newOrphan)
        .as("a directory without its lock made just now, perhaps by an older Kiln still starting")
        .exists();
  }
}
