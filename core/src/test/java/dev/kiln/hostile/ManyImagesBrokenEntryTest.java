package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A store holding many images, one of whose {@code index.json} entries something other than Kiln
 * broke. A bake of another image neither uses nor even reads that entry (what a bake costs does not
 * grow with the images the store holds); a bake of the broken image repairs its entry as it always
 * did; a collection, which checks every entry, removes it and keeps the others.
 */
class ManyImagesBrokenEntryTest {
  private static final int IMAGES = 8;
  private static final int BROKEN = 5;
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;
  Path store;
  List<BakeResult> baked;

  enum Break {
    /** The blob of the image's own layer is deleted. */
    MISSING_LAYER,
    /** A byte in the middle of the manifest blob is flipped. */
    CORRUPT_MANIFEST,
    /** The entry declares a size the manifest does not have. */
    WRONG_SIZE
  }

  static ImageBuild image(int i) {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("common").content("/etc/common", "shared\n".getBytes(), 0644))
        .layer(Layer.files("app").content("/app/id", ("image " + i + "\n").getBytes(), 0644))
        .config(c -> c.env("IMAGE", Integer.toString(i)));
  }

  @BeforeEach
  void fill() throws Exception {
    store = tmp.resolve("store");
    baked = new ArrayList<>();
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      for (int i = 0; i < IMAGES; i++) {
        baked.add(kiln.bake(image(i)));
      }
    }
    assertThat(entries()).hasSize(IMAGES);
  }

  @ParameterizedTest
  @EnumSource(Break.class)
  void aBakeOfAnotherImageNeitherUsesNorReadsTheBrokenEntry(Break how) throws Exception {
    breakEntry(how);
    byte[] index = Files.readAllBytes(store.resolve("index.json"));
    byte[] manifest = readIfThere(blob(baked.get(BROKEN).digest()));

    BakeResult again;
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      again = kiln.bake(image(0));
    }

    assertThat(again.digest()).isEqualTo(baked.get(0).digest());
    assertThat(again.provisioned()).isEmpty();
    // the entry it uses was checked and is valid, so the index was not rewritten: the broken entry
    // was left for the next collection, and its manifest was not even read (a flipped one would
    // have been evicted)
    assertThat(store.resolve("index.json")).hasBinaryContent(index);
    assertThat(readIfThere(blob(baked.get(BROKEN).digest()))).isEqualTo(manifest);
    copies(baked.get(0).digest().hex());
  }

  @ParameterizedTest
  @EnumSource(Break.class)
  void aBakeOfTheBrokenImageRepairsItsEntry(Break how) throws Exception {
    breakEntry(how);

    BakeResult again;
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      again = kiln.bake(image(BROKEN));
    }

    Digest d = baked.get(BROKEN).digest();
    assertThat(again.digest()).isEqualTo(d);
    assertThat(again.provisioned())
        .isEqualTo(how == Break.MISSING_LAYER ? List.of("app") : List.of());
    List<JsonNode> mine = entries().stream().filter(m -> ref(m).equals(d.hex())).toList();
    assertThat(mine).hasSize(1);
    assertThat(mine.get(0).path("digest").asText()).isEqualTo(d.toString());
    assertThat(mine.get(0).path("size").asLong()).isEqualTo(Files.size(blob(d)));
    assertThat(Digest.of(Files.readAllBytes(blob(d)))).isEqualTo(d);
    assertThat(entries()).hasSize(IMAGES);
    copies(d.hex());
  }

  @ParameterizedTest
  @EnumSource(Break.class)
  void aCollectionRemovesTheBrokenEntryAndKeepsTheOthers(Break how) throws Exception {
    breakEntry(how);

    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      kiln.gc(GcPolicy.of());
    }

    List<String> expected = new ArrayList<>();
    for (int i = 0; i < IMAGES; i++) {
      if (i != BROKEN) {
        expected.add(baked.get(i).digest().hex());
      }
    }
    assertThat(entries()).extracting(ManyImagesBrokenEntryTest::ref).isEqualTo(expected);
    if (how == Break.CORRUPT_MANIFEST) {
      assertThat(blob(baked.get(BROKEN).digest()))
          .as("the corrupt manifest is evicted")
          .doesNotExist();
    }
    for (String tag : expected) {
      copies(tag);
    }

    // a bake of it brings it back, and the store is whole again
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      assertThat(kiln.bake(image(BROKEN)).digest()).isEqualTo(baked.get(BROKEN).digest());
    }
    assertThat(entries()).hasSize(IMAGES);
    StoreLayoutCheck.assertGood(store, baked.get(BROKEN).digest(), tmp);
  }

  // ---- helpers ----

  private void breakEntry(Break how) throws IOException {
    BakeResult r = baked.get(BROKEN);
    switch (how) {
      case MISSING_LAYER -> Files.delete(blob(r.layers().get(1).digest()));
      case CORRUPT_MANIFEST -> {
        Path m = blob(r.digest());
        byte[] b = Files.readAllBytes(m);
        b[b.length / 2] ^= 0x01;
        Files.write(m, b);
      }
      case WRONG_SIZE -> {
        Path index = store.resolve("index.json");
        ObjectNode idx = (ObjectNode) JSON.readTree(Files.readAllBytes(index));
        for (JsonNode m : idx.path("manifests")) {
          if (ref(m).equals(r.digest().hex())) {
            ((ObjectNode) m).put("size", m.path("size").asLong() + 1);
          }
        }
        Files.write(index, JSON.writeValueAsBytes(idx));
      }
    }
  }

  private List<JsonNode> entries() throws IOException {
    List<JsonNode> out = new ArrayList<>();
    JSON.readTree(Files.readAllBytes(store.resolve("index.json")))
        .path("manifests")
        .forEach(out::add);
    return out;
  }

  private static String ref(JsonNode m) {
    return m.path("annotations").path("org.opencontainers.image.ref.name").asText();
  }

  private Path blob(Digest d) {
    return store.resolve("blobs/sha256/" + d.hex());
  }

  private static byte[] readIfThere(Path p) throws IOException {
    return Files.exists(p) ? Files.readAllBytes(p) : "absent".getBytes(StandardCharsets.UTF_8);
  }

  /** Real skopeo copies the tag out of the store, checking every blob's digest as it reads it. */
  private void copies(String tag) {
    String skopeo = Tools.require("skopeo", "skopeo");
    Path out = tmp.resolve("copy-" + UUID.randomUUID());
    Tools.run(skopeo, "copy", "--quiet", "oci:" + store + ":" + tag, "oci:" + out + ":t").ok();
  }
}
