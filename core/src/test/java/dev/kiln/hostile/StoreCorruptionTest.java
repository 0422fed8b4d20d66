package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.RecordingListener;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kind of file of the local store damaged in several ways, then a normal bake: it gives the
 * image a fresh store gives, and leaves a store that is a valid OCI layout whose every blob matches
 * its digest, which skopeo copies.
 */
class StoreCorruptionTest {
  @TempDir static Path shared;
  static Path sources;
  static Digest reference;
  static BakeResult referenceResult;

  @TempDir Path tmp;

  enum Damage {
    FLIP,
    TRUNCATE,
    EMPTY,
    DELETE,
    GARBAGE
  }

  /** The store files a bake relies on. */
  enum Part {
    BIG_LAYER,
    SMALL_LAYER,
    CONFIG,
    MANIFEST,
    INDEX,
    KEY,
    STAT_INDEX,
    RECORD
  }

  @BeforeAll
  static void referenceBake() throws Exception {
    sources = Files.createDirectories(shared.resolve("src"));
    byte[] big = new byte[(1 << 20) + (1 << 18)]; // incompressible: a layer blob over a MiB
    new Random(7).nextBytes(big);
    Files.createDirectories(sources.resolve("big"));
    Files.write(sources.resolve("big/data.bin"), big);
    Files.createDirectories(sources.resolve("small"));
    Files.writeString(sources.resolve("small/app.conf"), "port=8080\n");
    try (Kiln kiln = Kiln.builder().store(shared.resolve("reference")).build()) {
      referenceResult = kiln.bake(build());
      reference = referenceResult.digest();
    }
  }

  static ImageBuild build() {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("big").add(sources.resolve("big"), "/opt/big"))
        .layer(Layer.files("small").add(sources.resolve("small"), "/etc/app"))
        .config(c -> c.env("PORT", "8080").cmd("/opt/big/run"));
  }

  static Stream<Arguments> damages() {
    List<Arguments> out = new ArrayList<>();
    for (Part p : Part.values()) {
      for (Damage d : Damage.values()) {
        boolean blob =
            p == Part.BIG_LAYER || p == Part.SMALL_LAYER || p == Part.CONFIG || p == Part.MANIFEST;
        if (!(blob && d == Damage.GARBAGE)) {
          out.add(Arguments.of(p, d));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("damages")
  void aDamagedStoreFileIsRepairedByTheNextBake(Part part, Damage damage) throws Exception {
    Path store = tmp.resolve("store");
    BakeResult first = bake(store);
    assertThat(first.digest()).isEqualTo(reference);

    damage(file(store, part, first), damage);

    BakeResult again = bake(store);
    assertThat(again.digest()).isEqualTo(reference);
    assertThat(again.configDigest()).isEqualTo(referenceResult.configDigest());
    assertThat(again.layers())
        .extracting(l -> l.diffId())
        .isEqualTo(referenceResult.layers().stream().map(l -> l.diffId()).toList());
    StoreLayoutCheck.assertGood(store, reference, tmp);
  }

  @Test
  void aLayerDamagedBetweenTwoBakesOfAKilnKeptOpenIsProvisionedAgain() throws Exception {
    Path store = tmp.resolve("store");
    RecordingListener events = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(store).listener(events).build()) {
      BakeResult first = kiln.bake(build());
      kiln.bake(build());
      damage(file(store, Part.BIG_LAYER, first), Damage.FLIP);
      events.clear();
      BakeResult again = kiln.bake(build());
      assertThat(again.digest()).isEqualTo(reference);
      assertThat(again.provisioned()).containsExactly("big");
      assertThat(events.of(BakeEvent.CacheCorrupted.class))
          .extracting(BakeEvent.CacheCorrupted::digest)
          .containsExactly(first.layers().get(0).digest());
    }
    StoreLayoutCheck.assertGood(store, reference, tmp);
  }

  @Test
  void aBlobDamagedWithItsSizeAndMtimePutBackIsStillCaught() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult first = bake(store);
    Path blob = file(store, Part.BIG_LAYER, first);
    Thread.sleep(200); // past the timestamp tick after the blob was written, so its verification is
    // remembered
    bake(store);
    assertThat(store.resolve("stat/blobs"))
        .content()
        .contains(first.layers().get(0).digest().hex());
    FileTime mtime = Files.getLastModifiedTime(blob);
    damage(blob, Damage.FLIP);
    Files.setLastModifiedTime(blob, mtime); // only the ctime, which nothing can set back, tells

    BakeResult again = bake(store);

    assertThat(again.digest()).isEqualTo(reference);
    assertThat(again.provisioned()).containsExactly("big");
    StoreLayoutCheck.assertGood(store, reference, tmp);
  }

  @Test
  void aTruncatedLayerRebuiltLeavesNoSecondManifestNorItsRecord() throws Exception {
    Path store = tmp.resolve("store");
    Path archive = tmp.resolve("one.tar");
    BakeResult first = bake(store, "oci-archive:" + archive);
    damage(file(store, Part.BIG_LAYER, first), Damage.TRUNCATE);

    BakeResult again = bake(store, "oci-archive:" + tmp.resolve("two.tar"));

    assertThat(again.digest()).isEqualTo(reference);
    assertThat(manifestsIn(store)).containsExactly(reference.toString());
    try (Stream<Path> s = Files.list(store.resolve("records"))) {
      assertThat(s.filter(p -> p.toString().endsWith(".json")).map(p -> p.getFileName().toString()))
          .containsExactly(reference.hex() + ".json");
    }
    StoreLayoutCheck.assertGood(store, reference, tmp);
  }

  @Test
  void wrongIndexEntriesAreRemovedAndTheRestKept() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult first = bake(store);
    Path index = store.resolve("index.json");
    ObjectMapper json = new ObjectMapper();
    ObjectNode idx = (ObjectNode) json.readTree(Files.readAllBytes(index));
    ArrayNode ms = (ArrayNode) idx.get("manifests");
    ObjectNode good = (ObjectNode) ms.get(0);
    String mt = "application/vnd.oci.image.manifest.v1+json";
    // a manifest that is not there; one of the wrong size; a config called a manifest; a second
    // entry for the tag
    ms.addObject()
        .put("mediaType", mt)
        .put("digest", "sha256:" + "ab".repeat(32))
        .put("size", 100)
        .putObject("annotations")
        .put("org.opencontainers.image.ref.name", "missing");
    ms.addObject()
        .put("mediaType", mt)
        .put("digest", first.digest().toString())
        .put("size", 7)
        .putObject("annotations")
        .put("org.opencontainers.image.ref.name", "wrong-size");
    long cfgSize = Files.size(blob(store, first.configDigest()));
    ms.addObject()
        .put("mediaType", mt)
        .put("digest", first.configDigest().toString())
        .put("size", cfgSize)
        .putObject("annotations")
        .put("org.opencontainers.image.ref.name", "config");
    ms.add(good.deepCopy().put("digest", first.configDigest().toString()).put("size", cfgSize));
    ms.add("not a descriptor");
    ms.addObject().put("mediaType", mt).put("digest", "sha256:nothex").put("size", "big");
    // a valid manifest that declares a truncated size for the big layer: no such image can exist;
    // with its record
    ObjectNode bad = (ObjectNode) json.readTree(Files.readAllBytes(blob(store, first.digest())));
    ObjectNode layer0 = (ObjectNode) bad.get("layers").get(0);
    layer0.put("size", layer0.get("size").asLong() - 100);
    byte[] badBytes = json.writeValueAsBytes(bad);
    Digest badDigest = Digest.of(badBytes);
    Files.write(blob(store, badDigest), badBytes);
    ms.addObject()
        .put("mediaType", mt)
        .put("digest", badDigest.toString())
        .put("size", badBytes.length)
        .putObject("annotations")
        .put("org.opencontainers.image.ref.name", badDigest.hex());
    ObjectNode rec =
        (ObjectNode)
            json.readTree(
                Files.readAllBytes(store.resolve("records/" + first.digest().hex() + ".json")));
    rec.put("image", badDigest.toString());
    Files.write(store.resolve("records/" + badDigest.hex() + ".json"), json.writeValueAsBytes(rec));
    Files.write(index, json.writeValueAsBytes(idx));

    // a bake checks the entries of the tag it sets; a collection checks every entry
    BakeResult again = bake(store);
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      kiln.gc(GcPolicy.of());
    }

    assertThat(again.digest()).isEqualTo(reference);
    assertThat(manifestsIn(store)).containsExactly(reference.toString());
    assertThat(store.resolve("records/" + badDigest.hex() + ".json")).doesNotExist();
    assertThat(blob(store, badDigest)).doesNotExist();
    assertThat(store.resolve("records/" + reference.hex() + ".json")).exists();
    StoreLayoutCheck.assertGood(store, reference, tmp);
  }

  @Test
  void anUnreadableIndexIsSetAsideAndRebuiltWithEveryRecordedImage() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult other =
        bake(
            store,
            ImageBuild.from(Base.scratch())
                .layer(Layer.files("other").content("/o", "o".getBytes(), 0644)));
    bake(store);
    Files.writeString(
        store.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":[{\"digest\":");

    BakeResult again = bake(store);

    assertThat(again.digest()).isEqualTo(reference);
    assertThat(manifestsIn(store))
        .containsExactlyInAnyOrder(reference.toString(), other.digest().toString());
    assertThat(store.resolve("index.json.corrupt"))
        .hasContent("{\"schemaVersion\":2,\"manifests\":[{\"digest\":");
    StoreLayoutCheck.assertGood(store, reference, tmp);
  }

  @Test
  void aRebuildThatFailsHalfWayLeavesTheDamagedIndexInPlace() throws Exception {
    Path store = tmp.resolve("store");
    bake(store);
    String damaged = "{\"schemaVersion\":2,\"manifests\":[{\"digest\":";
    Files.writeString(store.resolve("index.json"), damaged);
    Path records = store.resolve("records");
    Path moved = tmp.resolve("records-away");
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      // the records cannot be listed once the store is open: the rebuild fails after the index
      // was found damaged
      Files.move(records, moved);
      Files.writeString(records, "not a directory");
      assertThatThrownBy(() -> kiln.gc(GcPolicy.of())).isInstanceOf(BakeException.class);
    }
    // nothing lost: the index is still there for a later rebuild
    assertThat(store.resolve("index.json")).hasContent(damaged);
    Files.delete(records);
    Files.move(moved, records);
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      kiln.gc(GcPolicy.of());
    }
    assertThat(manifestsIn(store)).containsExactly(reference.toString());
  }

  // ---- helpers ----

  private BakeResult bake(Path store, String... targets) throws Exception {
    return bake(store, build(), targets);
  }

  private BakeResult bake(Path store, ImageBuild build, String... targets) throws Exception {
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      return kiln.bake(build, targets);
    }
  }

  private static Path blob(Path store, Digest d) {
    return store.resolve("blobs/sha256/" + d.hex());
  }

  private static List<String> manifestsIn(Path store) throws IOException {
    List<String> out = new ArrayList<>();
    new ObjectMapper()
        .readTree(Files.readAllBytes(store.resolve("index.json")))
        .path("manifests")
        .forEach(m -> out.add(m.path("digest").asText()));
    return out;
  }

  private static Path file(Path store, Part part, BakeResult r) {
    return switch (part) {
      case BIG_LAYER -> blob(store, r.layers().get(0).digest());
      case SMALL_LAYER -> blob(store, r.layers().get(1).digest());
      case CONFIG -> blob(store, r.configDigest());
      case MANIFEST -> blob(store, r.digest());
      case INDEX -> store.resolve("index.json");
      case KEY -> store.resolve("keys/" + r.layers().get(0).key().hex() + ".json");
      case STAT_INDEX -> store.resolve("stat/index");
      case RECORD -> r.record();
    };
  }

  /**
   * Damages a file. A flip in a JSON or text file changes one hex digit of a digest (so the file
   * still parses: the damage only its meaning shows); in a blob it flips a byte in the middle.
   */
  static void damage(Path f, Damage d) throws IOException {
    assertThat(f).exists();
    byte[] b = Files.readAllBytes(f);
    switch (d) {
      case FLIP -> {
        String s = new String(b, StandardCharsets.ISO_8859_1);
        int at = -1;
        if (!f.getParent().getFileName().toString().equals("sha256")) {
          for (String re :
              new String[] {
                "diffId\":\"sha256:([0-9a-f]{64})",
                "^\\S+ \\d+ \\d+ \\d+ \\d+ ([0-9a-f]{64}) ",
                "sha256:([0-9a-f]{64})"
              }) {
            Matcher m = Pattern.compile(re, Pattern.MULTILINE).matcher(s);
            if (m.find()) {
              at = m.start(1) + 10;
              break;
            }
          }
        }
        if (at >= 0) {
          b[at] = (byte) (b[at] == '0' ? '1' : '0');
        } else {
          b[b.length / 2] ^= 0x5a;
        }
        Files.write(f, b);
      }
      case TRUNCATE -> Files.write(f, java.util.Arrays.copyOf(b, b.length / 2));
      case EMPTY -> Files.write(f, new byte[0]);
      case DELETE -> Files.delete(f);
      case GARBAGE -> Files.writeString(f, "garbage " + UUID.randomUUID() + "\n\u0000\u00ff");
    }
  }
}
