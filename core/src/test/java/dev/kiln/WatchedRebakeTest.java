package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.event.BakeEvent;
import dev.kiln.testing.RecordingListener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Kiln kept open watches the trees of the files layers it rebakes, and then answers an unchanged
 * rebake without walking them. The point of these tests is the other half: every change made before
 * a bake, however soon before, must be seen. Each change is checked against a Kiln that does not
 * watch (its own store), which walks and hashes everything: both must give the same cache key and
 * image digest.
 */
class WatchedRebakeTest {
  @TempDir Path tmp;
  private Path src;
  private Path single;
  private Path linkToDir;
  private final RecordingListener events = new RecordingListener();
  private Kiln watching;
  private Kiln walking;

  @BeforeEach
  void setUp() throws IOException {
    src = Files.createDirectories(tmp.resolve("src"));
    Random r = new Random(3);
    for (int i = 0; i < 60; i++) {
      Path f = src.resolve("d" + i % 4).resolve("e" + i % 3).resolve("f" + i + ".txt");
      Files.createDirectories(f.getParent());
      byte[] b = new byte[100 + r.nextInt(3000)];
      r.nextBytes(b);
      Files.write(f, b);
    }
    Files.createSymbolicLink(src.resolve("d0/link"), Path.of("e0/f0.txt"));
    single = Files.writeString(tmp.resolve("single.conf"), "port=80\n");
    Path other = Files.createDirectories(tmp.resolve("other"));
    Files.writeString(other.resolve("a.txt"), "a");
    linkToDir = Files.createSymbolicLink(tmp.resolve("current"), other.getFileName());
    watching = Kiln.builder().store(tmp.resolve("store-watching")).listener(events).build();
    walking = Kiln.builder().store(tmp.resolve("store-walking")).watchFileSystem(false).build();
  }

  @AfterEach
  void tearDown() throws IOException {
    watching.close();
    walking.close();
  }

  private ImageBuild build() {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("tree")
                .add(src, "/app")
                .add(single, "/etc/app.conf")
                .add(linkToDir, "/current"));
  }

  /**
   * Bakes with the watching Kiln; returns how many files its walk checked (0: the retained walk was
   * used).
   */
  private long bakeWatching(List<BakeResult> into) throws BakeException {
    events.clear();
    into.add(watching.bake(build()));
    return events.of(BakeEvent.InputsHashed.class).stream()
        .mapToLong(BakeEvent.InputsHashed::filesChecked)
        .sum();
  }

  /** Bakes with both; they must agree. Returns the watching Kiln's result. */
  private BakeResult bakeBothAndCompare(String change) throws BakeException {
    List<BakeResult> r = new ArrayList<>();
    bakeWatching(r);
    BakeResult reference = walking.bake(build());
    assertThat(r.get(0).key()).as("cache key after: %s", change).isEqualTo(reference.key());
    assertThat(r.get(0).digest())
        .as("image digest after: %s", change)
        .isEqualTo(reference.digest());
    return r.get(0);
  }

  @Test
  void anUnchangedTreeIsNotWalkedOnceTheLayerIsWatched() throws Exception {
    List<BakeResult> r = new ArrayList<>();
    long first = bakeWatching(r);
    long second = bakeWatching(r); // the second bake of the layer walks and starts watching
    long third = bakeWatching(r);
    long fourth = bakeWatching(r);
    assertThat(first).isEqualTo(second).isGreaterThanOrEqualTo(62);
    assertThat(third).isZero();
    assertThat(fourth).isZero();
    assertThat(r).extracting(BakeResult::key).containsOnly(r.get(0).key());
    assertThat(r).extracting(BakeResult::digest).containsOnly(r.get(0).digest());
    assertThat(events.provisioned()).isEmpty();
  }

  @Test
  void aKilnThatDoesNotWatchWalksEveryTime() throws Exception {
    RecordingListener own = new RecordingListener();
    try (Kiln k =
        Kiln.builder()
            .store(tmp.resolve("store-off"))
            .listener(own)
            .watchFileSystem(false)
            .build()) {
      for (int i = 0; i < 3; i++) {
        own.clear();
        k.bake(build());
        assertThat(own.of(BakeEvent.InputsHashed.class))
            .extracting(BakeEvent.InputsHashed::filesChecked)
            .allMatch(n -> n >= 62);
      }
    }
  }

  /** A change, made right before a bake. */
  private interface Change {
    void apply() throws IOException;
  }

  @Test
  void everyKindOfChangeMadeJustBeforeABakeIsSeen() throws Exception {
    List<Object[]> changes =
        List.of(
            new Object[] {
              "same-size edit with the mtime put back",
              (Change)
                  () -> {
                    Path f = src.resolve("d1/e1/f1.txt");
                    FileTime t = Files.getLastModifiedTime(f);
                    byte[] b = Files.readAllBytes(f);
                    b[0] ^= 1;
                    Files.write(f, b);
                    Files.setLastModifiedTime(f, t);
                  }
            },
            new Object[] {
              "append",
              (Change)
                  () ->
                      Files.writeString(src.resolve("d2/e2/f2.txt"), "x", StandardOpenOption.APPEND)
            },
            new Object[] {
              "chmod +x",
              (Change)
                  () ->
                      Files.setPosixFilePermissions(
                          src.resolve("d3/e0/f3.txt"), PosixFilePermissions.fromString("rwxr-xr-x"))
            },
            new Object[] {
              "delete a file", (Change) () -> Files.delete(src.resolve("d0/e1/f4.txt"))
            },
            new Object[] {
              "a file in new directories",
              (Change)
                  () -> {
                    Files.createDirectories(src.resolve("new/deeper"));
                    Files.writeString(src.resolve("new/deeper/n.txt"), "one");
                  }
            },
            new Object[] {
              "an edit inside a directory created after watching began",
              (Change) () -> Files.writeString(src.resolve("new/deeper/n.txt"), "two")
            },
            new Object[] {
              "a directory renamed and another made under its old name",
              (Change)
                  () -> {
                    Files.move(src.resolve("d1"), src.resolve("d1-old"));
                    Files.createDirectories(src.resolve("d1/e1"));
                    Files.writeString(src.resolve("d1/e1/f1.txt"), "replaced");
                  }
            },
            new Object[] {
              "an edit in the directory made under the old name",
              (Change) () -> Files.writeString(src.resolve("d1/e1/f1.txt"), "edited")
            },
            new Object[] {
              "an edit in the renamed directory",
              (Change)
                  () -> Files.writeString(src.resolve("d1-old/e1/f5.txt"), "moved, then edited")
            },
            new Object[] {
              "a symlink retargeted",
              (Change)
                  () -> {
                    Files.delete(src.resolve("d0/link"));
                    Files.createSymbolicLink(src.resolve("d0/link"), Path.of("e0/other"));
                  }
            },
            new Object[] {
              "the declared single file edited",
              (Change) () -> Files.writeString(single, "port=81\n")
            },
            new Object[] {
              "the declared symlink to a directory retargeted",
              (Change)
                  () -> {
                    Path next = Files.createDirectories(tmp.resolve("other2"));
                    Files.writeString(next.resolve("b.txt"), "b");
                    Files.delete(linkToDir);
                    Files.createSymbolicLink(linkToDir, next.getFileName());
                  }
            },
            new Object[] {
              "a file in the directory the symlink now points to",
              (Change) () -> Files.writeString(tmp.resolve("other2/c.txt"), "c")
            },
            new Object[] {
              "the whole root replaced",
              (Change)
                  () -> {
                    Files.move(src, tmp.resolve("src-old"));
                    Files.createDirectories(src.resolve("only"));
                    Files.writeString(src.resolve("only/file.txt"), "fresh tree");
                  }
            },
            new Object[] {
              "an edit in the replaced root",
              (Change) () -> Files.writeString(src.resolve("only/file.txt"), "fresh tree, edited")
            },
            new Object[] {
              "an edit in the old root, no longer an input",
              (Change) () -> Files.writeString(tmp.resolve("src-old/d2/e2/f2.txt"), "outside")
            });

    List<BakeResult> warm = new ArrayList<>();
    bakeWatching(warm);
    BakeResult previous = bakeBothAndCompare("nothing");
    for (Object[] c : changes) {
      String name = (String) c[0];
      // the layer is watched and unchanged: answered without a walk, so the change below must come
      // from the watch
      assertThat(bakeWatching(warm)).as("unchanged bake before: %s", name).isZero();
      ((Change) c[1]).apply();
      BakeResult now = bakeBothAndCompare(name);
      if (!name.contains("no longer an input")) {
        assertThat(now.key()).as("the key moved after: %s", name).isNotEqualTo(previous.key());
      } else {
        assertThat(now.key()).as("the key stays after: %s", name).isEqualTo(previous.key());
      }
      previous = now;
    }
  }

  @Test
  void randomChangesRightBeforeEachBakeAreNeverMissed() throws Exception {
    Random r = new Random(42);
    List<BakeResult> ignored = new ArrayList<>();
    bakeWatching(ignored);
    bakeWatching(ignored);
    int reused = 0;
    for (int i = 0; i < 40; i++) {
      List<Path> files;
      try (Stream<Path> s = Files.walk(src)) {
        files = s.filter(Files::isRegularFile).sorted().toList();
      }
      Path pick = files.get(r.nextInt(files.size()));
      switch (r.nextInt(6)) {
        case 0 -> Files.writeString(pick, "rewritten " + i);
        case 1 -> Files.delete(pick);
        case 2 ->
            Files.writeString(
                Files.createDirectories(pick.getParent().resolve("n" + i)).resolve("x"),
                "new " + i);
        case 3 ->
            Files.setPosixFilePermissions(
                pick, PosixFilePermissions.fromString(i % 2 == 0 ? "rwxr--r--" : "rw-r--r--"));
        case 4 -> Files.move(pick, pick.resolveSibling(pick.getFileName() + ".moved"));
        default -> {
          // no change: the watch must answer without a walk
          long checked = bakeWatching(ignored);
          reused += checked == 0 ? 1 : 0;
        }
      }
      bakeBothAndCompare("random change " + i);
    }
    assertThat(reused).as("unchanged bakes answered by the watch").isPositive();
  }
}
