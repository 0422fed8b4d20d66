package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A target that looks like it holds the image but is damaged (truncated anywhere, one byte flipped)
 * is not "reused": the next bake writes it again, and skopeo reads the result.
 */
class DamagedTargetReuseTest {
  @TempDir Path tmp;
  Kiln kiln;
  RecordingListener events;
  ImageBuild build;
  String skopeo;

  @BeforeEach
  void setUp() throws IOException {
    skopeo = Tools.require("skopeo", "skopeo");
    events = new RecordingListener();
    kiln = Kiln.builder().store(tmp.resolve("store")).listener(events).build();
    Path in = Files.createDirectories(tmp.resolve("in"));
    byte[] noise = new byte[1_500_000];
    new Random(4).nextBytes(noise);
    Files.write(in.resolve("noise.bin"), noise);
    Files.writeString(in.resolve("hello.txt"), "hello\n".repeat(100));
    build =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("noise").add(in.resolve("noise.bin"), "/noise.bin"))
            .layer(Layer.files("hello").add(in.resolve("hello.txt"), "/hello.txt"))
            .config(c -> c.cmd("/hello"));
  }

  @AfterEach
  void tearDown() throws IOException {
    kiln.close();
  }

  private static void truncate(Path f, long size) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(size);
    }
  }

  private static void flipByte(Path f, long at) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.seek(at);
      int b = raf.read();
      raf.seek(at);
      raf.write(b ^ 0x01);
    }
  }

  private boolean bakeReused(String target) throws Exception {
    BakeResult r = kiln.bake(build, target);
    return r.published().get(target).reused();
  }

  private void skopeoCopies(String ref) {
    Tools.run(skopeo, "copy", ref, "dir:" + tmp.resolve("copy-" + System.nanoTime())).ok();
  }

  @ParameterizedTest
  @ValueSource(strings = {"oci-archive", "docker-archive"})
  void aTruncatedOrFlippedArchiveIsWrittenAgain(String scheme) throws Exception {
    Path f = tmp.resolve("out/image.tar");
    String target = scheme + ":" + f + (scheme.equals("oci-archive") ? ":v1" : ":app:v1");
    assertThat(bakeReused(target)).isFalse();
    byte[] good = Files.readAllBytes(f);
    assertThat(bakeReused(target)).as("an intact archive is reused").isTrue();
    long n = good.length;
    List<Long> cuts =
        List.of(0L, 1L, 511L, 700L, 1600L, n / 3, n / 2, n - 2048, n - 1030, n - 512, n - 1);
    for (long cut : cuts) {
      Files.write(f, good);
      truncate(f, cut);
      assertThat(bakeReused(target)).as("reused after truncation to " + cut + " of " + n).isFalse();
      assertThat(Files.readAllBytes(f)).as("rewritten after truncation to " + cut).isEqualTo(good);
      skopeoCopies(scheme + ":" + f);
    }
    for (long at : new long[] {n / 2, 600}) {
      Files.write(f, good);
      flipByte(f, at);
      assertThat(bakeReused(target)).as("reused with byte " + at + " flipped").isFalse();
      assertThat(Files.readAllBytes(f)).isEqualTo(good);
    }
    // bytes appended after the archive's end
    Files.write(f, good);
    Files.write(f, new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
    assertThat(bakeReused(target)).as("reused with bytes appended").isFalse();
    assertThat(Files.readAllBytes(f)).isEqualTo(good);
  }

  private static Path blob(Path layout, String digest) {
    return layout.resolve("blobs/sha256").resolve(Digest.parse(digest).hex());
  }

  private static JsonNode json(Path p) throws IOException {
    return new ObjectMapper().readTree(p.toFile());
  }

  private void assertLayoutVerifies(Path layout) throws IOException {
    try (Stream<Path> s = Files.list(layout.resolve("blobs/sha256"))) {
      for (Path b : s.toList()) {
        assertThat(Digest.of(Files.readAllBytes(b)).hex())
            .as("blob " + b)
            .isEqualTo(b.getFileName().toString());
      }
    }
  }

  @Test
  void aDamagedLayoutIsRepairedNotReused() throws Exception {
    Path d = tmp.resolve("layout");
    String target = "oci:" + d + ":v1";
    BakeResult first = kiln.bake(build, target);
    assertThat(bakeReused(target)).as("an intact layout is reused").isTrue();
    JsonNode manifest = json(blob(d, first.digest().toString()));
    String config = manifest.path("config").path("digest").asText();
    String noise = manifest.path("layers").get(0).path("digest").asText();
    String hello = manifest.path("layers").get(1).path("digest").asText();
    List<Runnable> damage = new ArrayList<>();
    damage.add(() -> io(() -> truncate(blob(d, noise), Files.size(blob(d, noise)) / 2)));
    damage.add(() -> io(() -> truncate(blob(d, noise), 0)));
    damage.add(() -> io(() -> flipByte(blob(d, noise), Files.size(blob(d, noise)) / 2)));
    damage.add(() -> io(() -> flipByte(blob(d, hello), 30)));
    damage.add(() -> io(() -> Files.delete(blob(d, hello))));
    damage.add(() -> io(() -> truncate(blob(d, first.digest().toString()), 40)));
    damage.add(() -> io(() -> flipByte(blob(d, first.digest().toString()), 5)));
    damage.add(() -> io(() -> truncate(blob(d, config), 10)));
    damage.add(() -> io(() -> flipByte(blob(d, config), 20)));
    damage.add(() -> io(() -> truncate(d.resolve("index.json"), 30)));
    damage.add(() -> io(() -> truncate(d.resolve("index.json"), 0)));
    damage.add(() -> io(() -> Files.delete(d.resolve("oci-layout"))));
    for (int i = 0; i < damage.size(); i++) {
      damage.get(i).run();
      assertThat(bakeReused(target)).as("reused after damage #" + i).isFalse();
      assertLayoutVerifies(d);
      skopeoCopies("oci:" + d + ":v1");
      assertThat(bakeReused(target)).as("reused after the repair of damage #" + i).isTrue();
    }
  }

  @Test
  void aTruncatedIndexKeepsTheOtherTagsItStillHolds() throws Exception {
    Path d = tmp.resolve("layout");
    BakeResult r = kiln.bake(build, "oci:" + d + ":a", "oci:" + d + ":b");
    kiln.bake(build, "oci:" + d + ":c");
    Path index = d.resolve("index.json");
    byte[] full = Files.readAllBytes(index);
    String text = new String(full, java.nio.charset.StandardCharsets.UTF_8);
    // cut inside the last descriptor (tag c): the complete ones before it are kept
    int cut = text.lastIndexOf("\"c\"");
    truncate(index, cut);
    events.clear();
    assertThat(kiln.bake(build, "oci:" + d + ":c").published().get("oci:" + d + ":c").reused())
        .isFalse();
    List<String> tags = new ArrayList<>();
    for (JsonNode m : json(index).path("manifests")) {
      tags.add(m.path("annotations").path("org.opencontainers.image.ref.name").asText());
      assertThat(m.path("digest").asText()).isEqualTo(r.digest().toString());
    }
    assertThat(tags).containsExactlyInAnyOrder("a", "b", "c");
    assertThat(events.of(BakeEvent.Warning.class))
        .anySatisfy(w -> assertThat(w.message()).contains("index.json"));
    try (Stream<Path> s = Files.list(d)) {
      Path kept =
          s.filter(p -> p.getFileName().toString().startsWith("index.json.damaged-"))
              .findFirst()
              .orElseThrow();
      assertThat(Files.readAllBytes(kept)).hasSize(cut);
    }
    for (String t : tags) {
      skopeoCopies("oci:" + d + ":" + t);
    }
  }

  private interface IoAction {
    void run() throws IOException;
  }

  private static void io(IoAction a) {
    try {
      a.run();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
