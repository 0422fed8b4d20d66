package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An image whose manifest blob was changed or removed behind the store's back is listed by {@code
 * kiln images} and shown by {@code kiln inspect} as damaged, never with what the changed blob says,
 * and {@code kiln gc} drops the entry.
 */
class ImagesDamagedEntryTest {
  @TempDir Path dir;

  private BakeResult bake(Path store, String content, String name) throws Exception {
    try (Kiln k = Kiln.builder().store(store).build()) {
      BakeResult r =
          k.bake(
              ImageBuild.from(Base.scratch())
                  .layer(
                      Layer.files("app")
                          .content("/app/v", content.getBytes(StandardCharsets.UTF_8), 0644)),
              "oci:" + dir.resolve("out-" + name) + ":app");
      k.tag(r.digest(), name);
      return r;
    }
  }

  @Test
  void aChangedManifestBlobIsListedAsDamagedAndGcDropsIt() throws Exception {
    Path store = dir.resolve("store");
    BakeResult good = bake(store, "1\n", "good");
    BakeResult bad = bake(store, "2\n", "bad");
    Path blob = store.resolve("blobs/sha256").resolve(bad.digest().hex());
    String manifest = Files.readString(blob);
    // another process rewrites the manifest: one more layer, as if it were the image's
    Files.writeString(
        blob, manifest.replace("\"layers\":[", "\"layers\":[" + layerOf(manifest) + ","));

    CliRun images = CliRun.kiln("images", "--no-trunc", "--store", store.toString());
    assertThat(images.code()).as(images.toString()).isZero();
    String badLine = lineOf(images.out(), bad.digest().toString());
    assertThat(badLine)
        .contains("bad")
        .contains("DAMAGED: its manifest blob does not match its digest");
    assertThat(lineOf(images.out(), good.digest().toString()))
        .contains("good")
        .doesNotContain("DAMAGED");
    assertThat(images.err()).contains("1 image of the store cannot be trusted");

    CliRun inspect = CliRun.kiln("inspect", "--store", store.toString(), "bad");
    assertThat(inspect.code()).as(inspect.toString()).isZero();
    assertThat(inspect.out())
        .contains("damaged   its manifest blob does not match its digest")
        .doesNotContain("size ");
    CliRun json = CliRun.kiln("inspect", "--json", "--store", store.toString(), "bad");
    assertThat(json.out()).contains("\"damaged\" : \"its manifest blob does not match");

    CliRun gc = CliRun.kiln("gc", "--store", store.toString());
    assertThat(gc.code()).as(gc.toString()).isZero();
    CliRun after = CliRun.kiln("images", "--no-trunc", "--store", store.toString());
    assertThat(after.out())
        .doesNotContain(bad.digest().toString())
        .contains(good.digest().toString());
    assertThat(after.err()).doesNotContain("cannot be trusted");
  }

  @Test
  void aMissingManifestBlobIsListedAsDamaged() throws Exception {
    Path store = dir.resolve("store");
    BakeResult bad = bake(store, "3\n", "gone");
    Files.delete(store.resolve("blobs/sha256").resolve(bad.digest().hex()));
    CliRun images = CliRun.kiln("images", "--no-trunc", "--store", store.toString());
    assertThat(lineOf(images.out(), bad.digest().toString()))
        .contains("gone")
        .contains("DAMAGED: its manifest blob is missing");
  }

  @Test
  void aDamagedIndexIsListedFromTheRecordsAndGcRebuildsIt() throws Exception {
    Path store = dir.resolve("store");
    BakeResult first = bake(store, "4\n", "first");
    BakeResult second = bake(store, "5\n", "second");
    Path index = store.resolve("index.json");
    String whole = Files.readString(index);
    // cut in the middle: a hand edit, or a disk that lost the file's tail
    Files.writeString(index, whole.substring(0, whole.length() / 2));
    // and a record named after a blob that is no image manifest (a layer): not an image
    Digest layer = second.layers().get(0).digest();
    Files.writeString(store.resolve("records").resolve(layer.hex() + ".json"), "{}");

    CliRun images = CliRun.kiln("images", "--no-trunc", "--store", store.toString());
    assertThat(images.code()).as(images.toString()).isZero();
    assertThat(images.out())
        .contains(first.digest().toString())
        .contains(second.digest().toString())
        .doesNotContain(layer.toString());
    assertThat(images.err())
        .doesNotContain("cannot be trusted")
        .contains("index.json at " + index + " is damaged (")
        .contains("listed from their records, without their names")
        .contains("'kiln gc' rebuilds it");
    CliRun inspect = CliRun.kiln("inspect", "--store", store.toString(), second.digest().hex());
    assertThat(inspect.code()).as(inspect.toString()).isZero();
    assertThat(inspect.err()).contains("is damaged (");
    CliRun byName = CliRun.kiln("inspect", "--store", store.toString(), "second");
    assertThat(byName.code()).as(byName.toString()).isEqualTo(Exit.NOT_FOUND);
    assertThat(byName.err()).contains("names are unknown until the next bake or 'kiln gc'");

    CliRun dry = CliRun.kiln("gc", "--dry-run", "--store", store.toString());
    assertThat(dry.code()).as(dry.toString()).isZero();
    assertThat(Files.readString(index)).isEqualTo(whole.substring(0, whole.length() / 2));

    CliRun gc = CliRun.kiln("gc", "--store", store.toString());
    assertThat(gc.code()).as(gc.toString()).isZero();
    assertThat(store.resolve("index.json.corrupt"))
        .hasContent(whole.substring(0, whole.length() / 2));
    CliRun after = CliRun.kiln("images", "--no-trunc", "--store", store.toString());
    assertThat(after.code()).as(after.toString()).isZero();
    assertThat(after.err()).doesNotContain("damaged");
    assertThat(after.out())
        .contains(first.digest().toString())
        .contains(second.digest().toString());
  }

  @Test
  void anIndexWithoutAListOfManifestsIsListedFromTheRecords() throws Exception {
    Path store = dir.resolve("store");
    BakeResult only = bake(store, "6\n", "only");
    Files.writeString(store.resolve("index.json"), "[]");
    CliRun images = CliRun.kiln("images", "-q", "--store", store.toString());
    assertThat(images.code()).as(images.toString()).isZero();
    assertThat(images.out().strip()).isEqualTo(only.digest().toString());
    assertThat(images.err()).contains("is damaged (it holds no list of manifests)");
  }

  private static String layerOf(String manifest) {
    int i = manifest.indexOf("\"layers\":[") + "\"layers\":[".length();
    int depth = 0;
    for (int j = i; j < manifest.length(); j++) {
      char c = manifest.charAt(j);
      depth += c == '{' ? 1 : c == '}' ? -1 : 0;
      if (depth == 0 && c == '}') {
        return manifest.substring(i, j + 1);
      }
    }
    throw new AssertionError("no layer in " + manifest);
  }

  private static String lineOf(String out, String digest) {
    return out.lines()
        .filter(l -> l.startsWith(digest))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no line for " + digest + " in\n" + out));
  }
}
