package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Targets that would write one file or one tag twice: a bake refuses them before it writes
 * anything, naming both, so {@code published()} never lists a target that does not hold its image.
 * Targets that can share a place (tags of one OCI layout, one target spelled twice) are all
 * published.
 */
class ConflictingTargetsTest {
  @TempDir Path tmp;
  Kiln kiln;
  ImageBuild one;
  ImageBuild two;

  @BeforeEach
  void setUp() throws IOException {
    kiln = Kiln.builder().store(tmp.resolve("store")).build();
    Path a = Files.writeString(Files.createDirectories(tmp.resolve("in")).resolve("a.txt"), "one");
    Path b = Files.writeString(tmp.resolve("in/b.txt"), "two");
    one = ImageBuild.from(Base.scratch()).layer(Layer.files("a").add(a, "/a.txt"));
    two = ImageBuild.from(Base.scratch()).layer(Layer.files("b").add(b, "/b.txt"));
  }

  @AfterEach
  void tearDown() throws IOException {
    kiln.close();
  }

  private void assertRefused(ImageBuild b, String first, String second) {
    assertThatThrownBy(() -> kiln.bake(b, first, second))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(first)
        .hasMessageContaining(second);
  }

  private long filesIn(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.count();
    }
  }

  @Test
  void anOciArchiveAndADockerArchiveOfOneFileAreRefusedBeforeAnythingIsWritten()
      throws IOException {
    Path out = tmp.resolve("out");
    assertRefused(
        one,
        "oci-archive:" + out.resolve("m.tar"),
        "docker-archive:" + out.resolve("m.tar") + ":app:1");
    assertThat(filesIn(out)).isZero();
  }

  @Test
  void twoTagsOfOneOciArchiveAreRefused() throws IOException {
    Path f = tmp.resolve("out/m.tar");
    assertRefused(one, "oci-archive:" + f + ":one", "oci-archive:" + f + ":two");
    assertRefused(one, "docker-archive:" + f + ":app:1", "docker-archive:" + f + ":app:2");
    assertRefused(one, "docker-archive:" + f, "docker-archive:" + f + ":app:2");
    assertThat(f).doesNotExist();
  }

  @Test
  void oneFileSpelledDifferentlyIsStillOneFile() throws IOException {
    Files.createDirectories(tmp.resolve("x/y"));
    String spelled = tmp + "/x/./y/../m.tar";
    assertRefused(
        one, "oci-archive:" + spelled + ":one", "oci-archive:" + tmp.resolve("x/m.tar") + ":two");
    assertRefused(one, "oci-archive:" + spelled, "docker-archive:" + tmp.resolve("x/m.tar"));
  }

  @Test
  void aSymlinkedPathToTheSameFileIsTheSameFile() throws Exception {
    Path real = Files.createDirectories(tmp.resolve("real"));
    Path link = Files.createSymbolicLink(tmp.resolve("link"), real);
    assertRefused(
        one,
        "oci-archive:" + link.resolve("m.tar") + ":one",
        "oci-archive:" + real.resolve("m.tar") + ":two");
    // and a symlink to an existing archive file
    kiln.bake(one, "oci-archive:" + real.resolve("m.tar"));
    Path fileLink = Files.createSymbolicLink(tmp.resolve("m-link.tar"), real.resolve("m.tar"));
    assertRefused(one, "docker-archive:" + fileLink, "oci-archive:" + real.resolve("m.tar"));
  }

  @Test
  void aLayoutAndAnArchiveOnOnePathAreRefused() {
    Path p = tmp.resolve("place");
    assertRefused(one, "oci:" + p + ":v1", "oci-archive:" + p + ":v1");
    assertThat(p).doesNotExist();
  }

  @Test
  void aDiskAndAnArchiveOfOneFileAreRefused() {
    Path f = tmp.resolve("out/disk.img");
    assertRefused(one, "raw:" + f, "oci-archive:" + f);
    assertThat(f).doesNotExist();
  }

  @Test
  void twoBuildsOfOneBakeAllWritingOneArchiveAreRefused() throws IOException {
    Path f = tmp.resolve("out/m.tar");
    Map<ImageBuild, List<String>> builds = new LinkedHashMap<>();
    builds.put(one, List.of("oci-archive:" + f));
    builds.put(two, List.of("oci-archive:" + tmp + "/out/./m.tar"));
    assertThatThrownBy(() -> kiln.bakeAll(builds))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("oci-archive:" + f)
        .hasMessageContaining("oci-archive:" + tmp + "/out/./m.tar");
    assertThat(f).doesNotExist();
  }

  @Test
  void twoBuildsOfOneBakeAllTaggingOneLayoutTagAreRefused() {
    Path d = tmp.resolve("layout");
    Map<ImageBuild, List<String>> builds = new LinkedHashMap<>();
    builds.put(one, List.of("oci:" + d + ":v1"));
    builds.put(two, List.of("oci:" + d + ":v1"));
    assertThatThrownBy(() -> kiln.bakeAll(builds))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("oci:" + d + ":v1");
    assertThat(d).doesNotExist();
  }

  @Test
  void twoBuildsOfOneBakeAllTaggingOneLayoutDifferentlyBothLand() throws Exception {
    Path d = tmp.resolve("layout");
    Map<ImageBuild, List<String>> builds = new LinkedHashMap<>();
    builds.put(one, List.of("oci:" + d + ":one"));
    builds.put(two, List.of("oci:" + d + ":two"));
    List<BakeResult> rs = kiln.bakeAll(builds);
    String index = Files.readString(d.resolve("index.json"));
    assertThat(index)
        .contains(
            rs.get(0).digest().toString(), rs.get(1).digest().toString(), "\"one\"", "\"two\"");
  }

  @Test
  void oneTargetSpelledTwiceInOneBakeIsPublishedTwiceAndHoldsTheImage() throws Exception {
    Path f = tmp.resolve("out/m.tar");
    Files.createDirectories(f.getParent());
    String a = "oci-archive:" + f + ":v1";
    String b = "oci-archive:" + tmp + "/out/./m.tar:v1";
    BakeResult r = kiln.bake(one, a, b);
    assertThat(r.published()).containsOnlyKeys(a, b);
    BakeResult again = kiln.bake(one, "oci-archive:" + f + ":v1");
    assertThat(again.published().get("oci-archive:" + f + ":v1").reused()).isTrue();
  }
}
