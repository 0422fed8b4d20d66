package dev.kiln.internal.provision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TreeWatcherTest {
  @TempDir Path tmp;
  private TreeWatcher watcher;

  @BeforeEach
  void open() {
    boolean linux = System.getProperty("os.name").toLowerCase(Locale.ROOT).startsWith("linux");
    assumeThat(linux).as("file-system watching is used on Linux only").isTrue();
    watcher = TreeWatcher.open();
    assertThat(watcher).as("Linux has inotify").isNotNull();
  }

  @AfterEach
  void close() {
    if (watcher != null) {
      watcher.close();
    }
  }

  private TreeWatcher.Watch watch(Path... dirs) throws IOException {
    TreeWatcher.Watch w = watcher.newWatch();
    for (Path d : dirs) {
      watcher.register(w, d, FileStat.lstat(d).inode());
    }
    return w;
  }

  @Test
  void aChangeMadeBeforeSyncIsAlwaysSeenAfterIt() throws Exception {
    Path d = Files.createDirectories(tmp.resolve("d"));
    for (int i = 0; i < 200; i++) {
      TreeWatcher.Watch w = watch(d);
      assertThat(watcher.sync()).isTrue();
      assertThat(w.clean()).isTrue();
      Files.writeString(d.resolve("f"), "v" + i);
      assertThat(watcher.sync()).isTrue();
      assertThat(w.clean()).as("round %d", i).isFalse();
      w.release();
    }
  }

  @Test
  void eachKindOfEventMakesTheWatchDirty() throws Exception {
    Path d = Files.createDirectories(tmp.resolve("d"));
    Path f = Files.writeString(d.resolve("f"), "x");
    Path sub = Files.createDirectories(d.resolve("sub"));
    String[] kinds = {"create", "delete", "modify", "attrib", "rename", "subdir deleted"};
    for (String kind : kinds) {
      TreeWatcher.Watch w = watch(d, sub);
      assertThat(watcher.sync()).isTrue();
      assertThat(w.clean()).isTrue();
      switch (kind) {
        case "create" -> Files.writeString(d.resolve("g"), "new");
        case "delete" -> Files.delete(d.resolve("g"));
        case "modify" -> Files.writeString(f, "y");
        case "attrib" ->
            Files.setLastModifiedTime(f, java.nio.file.attribute.FileTime.fromMillis(1000));
        case "rename" -> Files.move(f, d.resolve("f2"));
        default -> Files.delete(sub);
      }
      assertThat(watcher.sync()).isTrue();
      assertThat(w.clean()).as(kind).isFalse();
      w.release();
    }
  }

  @Test
  void releasingTheLastWatchStopsWatchingItsDirectories() throws Exception {
    Path a = Files.createDirectories(tmp.resolve("a"));
    Path b = Files.createDirectories(tmp.resolve("b"));
    TreeWatcher.Watch one = watch(a, b);
    TreeWatcher.Watch two = watch(a);
    assertThat(watcher.watchedDirectories()).isEqualTo(2);
    one.release();
    assertThat(watcher.watchedDirectories()).isEqualTo(1);
    Files.writeString(a.resolve("f"), "x");
    assertThat(watcher.sync()).isTrue();
    assertThat(two.clean()).isFalse();
    two.release();
    assertThat(watcher.watchedDirectories()).isZero();
  }

  @Test
  void closingStopsTheThreadAndEveryWatchIsDirty() throws Exception {
    TreeWatcher.Watch w = watch(Files.createDirectories(tmp.resolve("d")));
    assertThat(watcher.running()).isTrue();
    watcher.close();
    assertThat(watcher.running()).isFalse();
    assertThat(watcher.sync()).isFalse();
    assertThat(w.clean()).isFalse();
  }

  @Test
  void onlyLocalFileSystemsAreWatched() {
    assertThat(watcher.watchable(tmp)).isTrue();
    assertThat(watcher.watchable(Path.of("/proc/self"))).as("procfs").isFalse();
  }
}
