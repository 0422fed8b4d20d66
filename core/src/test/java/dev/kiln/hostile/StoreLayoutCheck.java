package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * What a store Kiln has just called good must be: an OCI layout whose every blob matches its
 * digest, whose every index.json entry real skopeo copies, and whose key entries and image records
 * agree with the blobs.
 */
final class StoreLayoutCheck {
  private static final ObjectMapper JSON = new ObjectMapper();

  private StoreLayoutCheck() {}

  /** Checks the whole store; {@code image} must be one of its tags. */
  static void assertGood(Path store, Digest image, Path scratch) throws IOException {
    Set<String> blobs = new HashSet<>();
    try (Stream<Path> s = Files.list(store.resolve("blobs/sha256"))) {
      for (Path b : (Iterable<Path>) s::iterator) {
        assertThat(Digest.of(Files.readAllBytes(b)).hex())
            .as("content of blob %s", b.getFileName())
            .isEqualTo(b.getFileName().toString());
        blobs.add(b.getFileName().toString());
      }
    }
    JsonNode idx = JSON.readTree(Files.readAllBytes(store.resolve("index.json")));
    assertThat(idx.path("schemaVersion").asInt()).isEqualTo(2);
    List<String> tags = new ArrayList<>();
    Set<String> manifests = new HashSet<>();
    for (JsonNode m : idx.path("manifests")) {
      String hex = Digest.parse(m.path("digest").asText()).hex();
      assertThat(blobs).as("manifest blob of index entry %s", m).contains(hex);
      assertThat(Files.size(store.resolve("blobs/sha256/" + hex)))
          .as("size of %s", m)
          .isEqualTo(m.path("size").asLong());
      JsonNode manifest = JSON.readTree(Files.readAllBytes(store.resolve("blobs/sha256/" + hex)));
      List<JsonNode> refs = new ArrayList<>();
      refs.add(manifest.path("config"));
      manifest.path("layers").forEach(refs::add);
      for (JsonNode r : refs) {
        String rh = Digest.parse(r.path("digest").asText()).hex();
        assertThat(blobs).as("blob %s of manifest %s", rh, hex).contains(rh);
        assertThat(Files.size(store.resolve("blobs/sha256/" + rh)))
            .as("size of blob %s in manifest %s", rh, hex)
            .isEqualTo(r.path("size").asLong());
      }
      tags.add(m.path("annotations").path("org.opencontainers.image.ref.name").asText());
      manifests.add(hex);
    }
    assertThat(tags).doesNotHaveDuplicates().contains(image.hex());
    // records describe images the index holds, with their blobs
    try (Stream<Path> s = Files.list(store.resolve("records"))) {
      for (Path r : (Iterable<Path>) s.filter(p -> p.toString().endsWith(".json"))::iterator) {
        String hex = r.getFileName().toString().replace(".json", "");
        JsonNode rec = JSON.readTree(Files.readAllBytes(r));
        assertThat(rec.path("image").asText()).as("record %s", r).isEqualTo("sha256:" + hex);
        assertThat(manifests).as("image of record %s in index.json", r).contains(hex);
        JsonNode manifest = JSON.readTree(Files.readAllBytes(store.resolve("blobs/sha256/" + hex)));
        JsonNode config =
            JSON.readTree(
                Files.readAllBytes(
                    store.resolve(
                        "blobs/sha256/" + Digest.parse(rec.path("config").asText()).hex())));
        assertThat(rec.path("config").asText())
            .isEqualTo(manifest.path("config").path("digest").asText());
        for (int i = 0; i < rec.path("layers").size(); i++) {
          JsonNode l = rec.path("layers").get(i);
          assertThat(l.path("digest").asText())
              .as("record %s layer %s", r, i)
              .isEqualTo(manifest.path("layers").get(i).path("digest").asText());
          assertThat(l.path("size").asLong())
              .isEqualTo(manifest.path("layers").get(i).path("size").asLong());
          assertThat(l.path("diffId").asText())
              .isEqualTo(config.path("rootfs").path("diff_ids").get(i).asText());
        }
      }
    }
    // key entries name a present blob of their size
    try (Stream<Path> s = Files.list(store.resolve("keys"))) {
      for (Path k : (Iterable<Path>) s::iterator) {
        JsonNode e = JSON.readTree(Files.readAllBytes(k));
        String hex = Digest.parse(e.path("digest").asText()).hex();
        assertThat(blobs).as("blob of key %s", k).contains(hex);
        assertThat(Files.size(store.resolve("blobs/sha256/" + hex)))
            .isEqualTo(e.path("size").asLong());
      }
    }
    // real skopeo copies every tag out of the store (it checks every blob's digest as it reads it)
    String skopeo = Tools.require("skopeo", "skopeo");
    for (String tag : tags) {
      Path out = scratch.resolve("copy-" + UUID.randomUUID());
      Tools.run(skopeo, "copy", "--quiet", "oci:" + store + ":" + tag, "oci:" + out + ":t").ok();
    }
  }
}
