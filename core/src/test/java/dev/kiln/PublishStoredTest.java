package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.event.BakeEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kiln.publish and Kiln.importImage: an image already baked goes to more targets without a rebake.
 */
class PublishStoredTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  static ImageBuild app(String version) {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("etc")
                .content("/etc/motd", "hello\n".getBytes(StandardCharsets.UTF_8), 0644))
        .layer(
            Layer.files("app")
                .content("/app/version", version.getBytes(StandardCharsets.UTF_8), 0644))
        .config(c -> c.cmd("/bin/cat", "/app/version").env("A", "1"));
  }

  /** The manifest digest an OCI layout tags {@code tag} with. */
  static String tagged(Path layout, String tag) throws Exception {
    JsonNode index = JSON.readTree(Files.readAllBytes(layout.resolve("index.json")));
    for (JsonNode m : index.path("manifests")) {
      if (tag.equals(m.path("annotations").path("org.opencontainers.image.ref.name").asText())) {
        return m.path("digest").asText();
      }
    }
    throw new AssertionError("no tag " + tag + " in " + index);
  }

  @Test
  void publishingAStoredImageGivesTheTargetWhatABakeToItGives() throws Exception {
    List<BakeEvent> events = new CopyOnWriteArrayList<>();
    try (Kiln baked = Kiln.builder().store(dir.resolve("a")).build();
        Kiln promoted = Kiln.builder().store(dir.resolve("b")).listener(events::add).build()) {
      BakeResult direct = baked.bake(app("1"), "oci:" + dir.resolve("direct") + ":app");
      BakeResult stored = promoted.bake(app("1"));
      assertThat(stored.digest()).isEqualTo(direct.digest());
      events.clear();

      Map<String, PublishedImage> out =
          promoted.publish(
              stored.digest(),
              "oci:" + dir.resolve("copy") + ":app",
              "oci-archive:" + dir.resolve("copy.tar"));

      assertThat(out).hasSize(2);
      assertThat(out.values()).allSatisfy(p -> assertThat(p.digest()).isEqualTo(direct.digest()));
      assertThat(tagged(dir.resolve("copy"), "app")).isEqualTo(direct.digest().toString());
      assertThat(
              Files.readAllBytes(dir.resolve("copy/blobs/sha256/" + direct.configDigest().hex())))
          .isEqualTo(
              Files.readAllBytes(
                  dir.resolve("direct/blobs/sha256/" + direct.configDigest().hex())));
      // nothing was provisioned or assembled: only published
      assertThat(events)
          .noneMatch(
              e -> e instanceof BakeEvent.LayerProvisioned || e instanceof BakeEvent.LayerStarted);
      assertThat(events).filteredOn(e -> e instanceof BakeEvent.ImagePublished).hasSize(2);
      // each publication is recorded beside the image record
      try (var s = Files.list(dir.resolve("b/records/" + stored.digest().hex()))) {
        assertThat(s.count()).isEqualTo(2);
      }
    }
  }

  @Test
  void anImageOfAnotherLayoutIsImportedWithItsDigestAndPublished() throws Exception {
    Path other = dir.resolve("other");
    BakeResult baked;
    try (Kiln k = Kiln.builder().store(dir.resolve("a")).build()) {
      baked = k.bake(app("2"), "oci:" + other + ":release");
    }
    try (Kiln k = Kiln.builder().store(dir.resolve("b")).build()) {
      Digest imported = k.importImage(other, "release");
      assertThat(imported).isEqualTo(baked.digest());
      assertThat(tagged(dir.resolve("b"), imported.hex())).isEqualTo(imported.toString());
      Map<String, PublishedImage> out = k.publish(imported, "oci:" + dir.resolve("out") + ":x");
      assertThat(out.get("oci:" + dir.resolve("out") + ":x").digest()).isEqualTo(baked.digest());
      assertThat(tagged(dir.resolve("out"), "x")).isEqualTo(baked.digest().toString());
    }
  }

  @Test
  void anImageTheStoreDoesNotHoldIsAClearError() throws Exception {
    try (Kiln k = Kiln.builder().store(dir.resolve("s")).build()) {
      Digest missing = Digest.of("nothing".getBytes(StandardCharsets.UTF_8));
      assertThatThrownBy(() -> k.publish(missing, "oci:" + dir.resolve("out") + ":x"))
          .isInstanceOf(BakeException.class)
          .hasMessageContaining("no image " + missing)
          .hasMessageContaining("bake it into this store first");
      assertThat(dir.resolve("out")).doesNotExist();
    }
  }

  @Test
  void anUnknownTargetFailsBeforeAnythingIsRead() throws Exception {
    try (Kiln k = Kiln.builder().store(dir.resolve("s")).build()) {
      BakeResult r = k.bake(app("3"));
      assertThatThrownBy(() -> k.publish(r.digest(), "nosuch://x"))
          .isInstanceOf(InvalidTargetException.class)
          .hasMessageContaining("unknown target scheme 'nosuch'");
    }
  }

  @Test
  void aLayoutWithoutTheTagIsAClearError() throws Exception {
    Path other = dir.resolve("other");
    try (Kiln k = Kiln.builder().store(dir.resolve("s")).build()) {
      k.bake(app("4"), "oci:" + other + ":release");
      assertThatThrownBy(() -> k.importImage(other, "nosuch"))
          .isInstanceOf(BakeException.class)
          .hasMessageContaining("no image tagged 'nosuch'");
    }
  }

  @Test
  void aTagNamesTheLatestImageInTheStoreLayout() throws Exception {
    try (Kiln k = Kiln.builder().store(dir.resolve("s")).build()) {
      BakeResult one = k.bake(app("5"));
      BakeResult two = k.bake(app("6"));
      k.tag(one.digest(), "app");
      assertThat(tagged(dir.resolve("s"), "app")).isEqualTo(one.digest().toString());
      k.tag(two.digest(), "app");
      assertThat(tagged(dir.resolve("s"), "app")).isEqualTo(two.digest().toString());
      assertThat(tagged(dir.resolve("s"), one.digest().hex())).isEqualTo(one.digest().toString());
      assertThatThrownBy(() -> k.tag(two.digest(), "../x"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("cannot name an image");
      assertThatThrownBy(() -> k.tag(one.digest(), two.digest().hex()))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
