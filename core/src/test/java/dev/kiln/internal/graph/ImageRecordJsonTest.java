package dev.kiln.internal.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.hash.Hashing;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.internal.keys.LayerKeys;
import dev.kiln.internal.provision.OciBaseLayer;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.Fingerprint;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image record ({@code records/<image>.json}) and the publication records ({@code
 * records/<image>/*.json}) are files of the store that tools and later versions read: their bytes
 * stay as they were, and records written by earlier versions still read.
 */
class ImageRecordJsonTest {
  static final Digest IMAGE = Digest.of(bytes("image"));
  static final Digest CONFIG = Digest.of(bytes("config"));
  static final Digest KEY = Digest.of(bytes("key"));
  static final Digest KEY_1 = Digest.of(bytes("key 1"));
  static final Digest KEY_2 = Digest.of(bytes("key 2"));
  static final Digest DIFF_1 = Digest.of(bytes("diff 1"));
  static final Digest DIFF_2 = Digest.of(bytes("diff 2"));
  static final Digest BLOB_1 = Digest.of(bytes("blob 1"));
  static final Digest BLOB_2 = Digest.of(bytes("blob 2"));
  static final Digest IN_A = Digest.of(bytes("a"));
  private static final Pattern FIRST_BAKED = Pattern.compile("\"firstBaked\":\"([^\"]*)\"");
  private static final Pattern AT = Pattern.compile("\"at\":\"([^\"]*)\"");

  @TempDir Path dir;

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** The file as the store seals it: the body, then the SHA-256 of the subject and the body. */
  static String sealed(Digest subject, String body) {
    String seal =
        Hashing.sha256()
            .newHasher()
            .putString("kiln.seal.v1\n" + subject.hex() + "\n", StandardCharsets.UTF_8)
            .putBytes(bytes(body))
            .hash()
            .toString();
    return body.substring(0, body.length() - 1) + ",\"seal\":\"sha256:" + seal + "\"}";
  }

  static String fullRecord(String firstBaked) {
    return "{\"schema\":\"dev.kiln.record.v1\",\"image\":\""
        + IMAGE
        + "\",\"config\":\""
        + CONFIG
        + "\",\"key\":\""
        + KEY
        + "\",\"base\":\"rootfs\",\"firstBaked\":\""
        + firstBaked
        + "\",\"layers\":[{\"name\":\"rootfs\",\"kind\":\"tar\",\"key\":\""
        + KEY_1
        + "\",\"diffId\":\""
        + DIFF_1
        + "\",\"digest\":\""
        + BLOB_1
        + "\",\"size\":100,\"inputs\":[]},{\"name\":\"app\",\"kind\":\"packages\",\"key\":\""
        + KEY_2
        + "\",\"diffId\":\""
        + DIFF_2
        + "\",\"digest\":\""
        + BLOB_2
        + "\",\"size\":200,\"uncompressedSize\":4096,\"inputs\":[{\"name\":\"/opt/a\",\"digest\":\""
        + IN_A
        + "\"}],\"metadata\":{\"apt.curl\":\"7.88.1-10\",\"apt.zlib\":\"1:1.2.13\"}}]}";
  }

  static List<LayerRecord> fullLayers() {
    Map<String, String> md = new TreeMap<>();
    md.put("apt.zlib", "1:1.2.13");
    md.put("apt.curl", "7.88.1-10");
    return List.of(
        new LayerRecord(
            "rootfs",
            "tar",
            KEY_1,
            DIFF_1,
            BLOB_1,
            100,
            -1,
            LayerRecord.GZIP_LAYER,
            List.of(),
            Map.of()),
        new LayerRecord(
            "app",
            "packages",
            KEY_2,
            DIFF_2,
            BLOB_2,
            200,
            4096,
            LayerRecord.GZIP_LAYER,
            List.of(new Fingerprint.Input("/opt/a", IN_A)),
            md));
  }

  private static Services services(LocalStore store) {
    return new Services(store, null, null, null, null, e -> {}, 0, 6, null, null, null, null);
  }

  private static String written(Path file, Pattern time) throws Exception {
    String s = Files.readString(file, StandardCharsets.UTF_8);
    Matcher m = time.matcher(s);
    assertThat(m.find()).as("a time in %s", s).isTrue();
    return m.group(1);
  }

  @Test
  void aFullImageRecordIsWrittenAsBefore() throws Exception {
    try (LocalStore store = LocalStore.open(dir.resolve("store"))) {
      StoredImage image =
          new StoredImage(
              store, IMAGE, new byte[0], CONFIG, new byte[0], null, fullLayers(), KEY, List.of(1));
      Path p =
          new WriteRecordStep(services(store))
              .run(image, new Chain(null, null, "rootfs", List.of(1)));
      String firstBaked = written(p, FIRST_BAKED);
      assertThat(Files.readString(p, StandardCharsets.UTF_8))
          .isEqualTo(sealed(IMAGE, fullRecord(firstBaked)));
    }
  }

  @Test
  void aMinimalImageRecordIsWrittenAsBefore() throws Exception {
    try (LocalStore store = LocalStore.open(dir.resolve("store"))) {
      StoredImage image =
          new StoredImage(
              store, IMAGE, new byte[0], CONFIG, new byte[0], null, List.of(), KEY, List.of());
      Path p =
          new WriteRecordStep(services(store))
              .run(image, new Chain(null, null, "scratch", List.of()));
      String firstBaked = written(p, FIRST_BAKED);
      assertThat(Files.readString(p, StandardCharsets.UTF_8))
          .isEqualTo(
              sealed(
                  IMAGE,
                  "{\"schema\":\"dev.kiln.record.v1\",\"image\":\""
                      + IMAGE
                      + "\",\"config\":\""
                      + CONFIG
                      + "\",\"key\":\""
                      + KEY
                      + "\",\"base\":\"scratch\",\"firstBaked\":\""
                      + firstBaked
                      + "\",\"layers\":[]}"));
    }
  }

  /** Stores a manifest and config of two layers (blobs 1 and 2), as the record's image. */
  private static Digest storeImage(LocalStore store) throws Exception {
    Digest config =
        store.putBlob(
            bytes(
                "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\","
                    + "\"diff_ids\":[\""
                    + DIFF_1
                    + "\",\""
                    + DIFF_2
                    + "\"]}}"));
    return store.putBlob(
        bytes(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\""
                + config
                + "\",\"size\":1},\"layers\":["
                + "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\""
                + BLOB_1
                + "\",\"size\":100},"
                + "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\""
                + BLOB_2
                + "\",\"size\":200}]}"));
  }

  @Test
  void theRecordWrittenNowReadsBack() throws Exception {
    try (LocalStore store = LocalStore.open(dir.resolve("store"))) {
      Digest image = storeImage(store);
      Files.createDirectories(store.recordPath(image).getParent());
      Files.writeString(
          store.recordPath(image),
          sealed(
              image,
              fullRecord("2024-01-02T03:04:05Z").replace(IMAGE.toString(), image.toString())));
      StoredImage read = new StoredImages(store, null, null).read(image);
      assertThat(read.key()).isEqualTo(KEY);
      assertThat(read.bases()).containsExactly(1);
      assertThat(read.layers())
          .extracting(LayerRecord::name, LayerRecord::kind, LayerRecord::key)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple("rootfs", "tar", KEY_1),
              org.assertj.core.groups.Tuple.tuple("app", "packages", KEY_2));
      assertThat(read.layers())
          .extracting(LayerRecord::uncompressedSize)
          .containsExactly(-1L, 4096L);
    }
  }

  /**
   * A record of an earlier version: not sealed, no keys (neither the image's nor the layers'), no
   * uncompressed sizes, pretty-printed. Its names and kinds still name the layers; the keys are
   * those of imported layers.
   */
  @Test
  void aRecordOfAnEarlierVersionStillReads() throws Exception {
    try (LocalStore store = LocalStore.open(dir.resolve("store"))) {
      Digest image = storeImage(store);
      String old =
          "{\n  \"schema\" : \"dev.kiln.record.v1\",\n  \"image\" : \""
              + image
              + "\",\n  \"config\" : \""
              + CONFIG
              + "\",\n  \"base\" : \"oci /srv/debian:12\",\n"
              + "  \"firstBaked\" : \"2023-05-06T07:08:09Z\",\n  \"layers\" : [ {\n"
              + "    \"name\" : \"layer-0\",\n    \"kind\" : \"oci-base\",\n    \"diffId\" : \""
              + DIFF_1
              + "\",\n    \"digest\" : \""
              + BLOB_1
              + "\",\n    \"size\" : 100\n  }, {\n    \"kind\" : \"files\",\n    \"name\" : \"app\",\n"
              + "    \"digest\" : \""
              + BLOB_2
              + "\",\n    \"size\" : 200,\n    \"inputs\" : [ ],\n    \"extra\" : true\n  } ]\n}\n";
      Files.createDirectories(store.recordPath(image).getParent());
      Files.writeString(store.recordPath(image), old);
      StoredImage read = new StoredImages(store, null, null).read(image);
      assertThat(read.layers())
          .extracting(LayerRecord::name, LayerRecord::kind, LayerRecord::key)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple(
                  "layer-0", OciBaseLayer.KIND, LayerKeys.imported(BLOB_1)),
              org.assertj.core.groups.Tuple.tuple("app", "files", LayerKeys.imported(BLOB_2)));
      assertThat(read.layers()).extracting(LayerRecord::uncompressedSize).containsExactly(-1L, -1L);
      assertThat(read.key()).isEqualTo(LayerKeys.imported(BLOB_2));
      assertThat(read.bases()).containsExactly(1);
    }
  }

  @Test
  void aPublicationRecordIsWrittenAsBefore() throws Exception {
    Path layout = dir.resolve("out");
    String target = "oci:" + layout + ":app";
    BakeResult r;
    try (Kiln k = Kiln.builder().store(dir.resolve("store")).build()) {
      r =
          k.bake(
              ImageBuild.from(Base.scratch())
                  .layer(Layer.files("app").content("/app/version", bytes("1\n"), 0644)),
              target);
    }
    Path p;
    try (Stream<Path> s = Files.list(dir.resolve("store/records/" + r.digest().hex()))) {
      p = s.findFirst().orElseThrow();
    }
    String at = written(p, AT);
    assertThat(Files.readString(p, StandardCharsets.UTF_8))
        .isEqualTo(
            "{\"target\":\""
                + target
                + "\",\"image\":\""
                + r.digest()
                + "\",\"reused\":false,\"at\":\""
                + at
                + "\",\"details\":{\"layout\":\""
                + layout
                + "\",\"tag\":\"app\"}}");
  }
}
