package dev.kiln.internal.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.Fingerprint;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bytes of a key entry are the store's {@code keys/} files and the remote cache's wire format:
 * entries written by earlier versions must still read, and the entries written now must be the
 * bytes earlier versions wrote (and sealed).
 */
class KeyEntryJsonTest {
  static final Digest KEY = Digest.of(bytes("key"));
  static final Digest DIFF_ID = Digest.of(bytes("diff"));
  static final Digest BLOB = Digest.of(bytes("blob"));
  static final Digest IN_A = Digest.of(bytes("a"));
  static final Digest IN_B = Digest.of(bytes("b"));

  static final String FULL_JSON =
      "{\"name\":\"app\",\"kind\":\"files\","
          + "\"diffId\":\"sha256:"
          + DIFF_ID.hex()
          + "\",\"digest\":\"sha256:"
          + BLOB.hex()
          + "\",\"size\":1234,\"uncompressedSize\":5678,"
          + "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
          + "\"inputs\":[{\"name\":\"/opt/a\",\"digest\":\"sha256:"
          + IN_A.hex()
          + "\"},{\"name\":\"/opt/b\",\"digest\":\"sha256:"
          + IN_B.hex()
          + "\"}],\"metadata\":{\"apt.curl\":\"7.88.1-10\",\"apt.zlib\":\"1:1.2.13\"}}";

  static final String MINIMAL_JSON =
      "{\"name\":\"base\",\"kind\":\"oci-base\","
          + "\"diffId\":\"sha256:"
          + DIFF_ID.hex()
          + "\",\"digest\":\"sha256:"
          + BLOB.hex()
          + "\",\"size\":0,\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
          + "\"inputs\":[],\"metadata\":{}}";

  /** The seal of {@link #FULL_JSON} about {@link #KEY}, as the store wrote it before. */
  static final String SEAL_OF_FULL =
      "5e396f9b84843e2594e10be14e061cd8416abefd74864f8829da95cf154dcf7a";

  @TempDir Path dir;

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static KeyEntry full() {
    Map<String, String> md = new TreeMap<>();
    md.put("apt.zlib", "1:1.2.13");
    md.put("apt.curl", "7.88.1-10");
    return new KeyEntry(
        new LayerRecord(
            "app",
            "files",
            null,
            DIFF_ID,
            BLOB,
            1234,
            5678,
            LayerRecord.GZIP_LAYER,
            List.of(new Fingerprint.Input("/opt/a", IN_A), new Fingerprint.Input("/opt/b", IN_B)),
            md));
  }

  static KeyEntry minimal() {
    return new KeyEntry(
        new LayerRecord(
            "base",
            "oci-base",
            null,
            DIFF_ID,
            BLOB,
            0,
            -1,
            LayerRecord.TAR_LAYER,
            List.of(),
            Map.of()));
  }

  @Test
  void aFullEntryIsWrittenAsBefore() throws Exception {
    assertThat(new String(Json.bytes(full().toJson()), StandardCharsets.UTF_8))
        .isEqualTo(FULL_JSON);
    assertThat(KeyEntry.fromJson(Json.read(bytes(FULL_JSON)))).isEqualTo(full());
  }

  @Test
  void aMinimalEntryLeavesTheUnknownUncompressedSizeOut() throws Exception {
    assertThat(new String(Json.bytes(minimal().toJson()), StandardCharsets.UTF_8))
        .isEqualTo(MINIMAL_JSON);
    assertThat(KeyEntry.fromJson(Json.read(bytes(MINIMAL_JSON)))).isEqualTo(minimal());
  }

  @Test
  void theSealedFileInTheStoreIsTheSameBytes() throws Exception {
    try (LocalStore store = LocalStore.open(dir.resolve("store"))) {
      store.putKey(KEY, full());
      String file =
          Files.readString(
              dir.resolve("store/keys/" + KEY.hex() + ".json"), StandardCharsets.UTF_8);
      assertThat(file)
          .isEqualTo(
              FULL_JSON.substring(0, FULL_JSON.length() - 1)
                  + ",\"seal\":\"sha256:"
                  + SEAL_OF_FULL
                  + "\"}");
    }
  }

  /**
   * An entry written before entries were sealed and before the uncompressed size was recorded (its
   * fields in another order, with whitespace, as another writer might leave them) still reads, and
   * is sealed in today's form.
   */
  @Test
  void anEntryOfAnOlderStoreStillReads() throws Exception {
    byte[] raw = bytes("hello layer\n");
    ByteArrayOutputStream bo = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bo)) {
      gz.write(raw);
    }
    byte[] blob = bo.toByteArray();
    Digest diffId = Digest.of(raw);
    Digest digest = Digest.of(blob);
    String old =
        "{\n  \"kind\" : \"files\",\n  \"name\" : \"app\",\n"
            + "  \"diffId\" : \""
            + diffId
            + "\",\n  \"digest\" : \""
            + digest
            + "\",\n  \"size\" : "
            + blob.length
            + ",\n  \"mediaType\" : \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
            + "  \"inputs\" : [ { \"name\" : \"/opt/a\", \"digest\" : \""
            + IN_A
            + "\" } ],\n  \"metadata\" : { \"n\" : 7 }\n}\n";
    KeyEntry expected =
        new KeyEntry(
            new LayerRecord(
                "app",
                "files",
                null,
                diffId,
                digest,
                blob.length,
                -1,
                LayerRecord.GZIP_LAYER,
                List.of(new Fingerprint.Input("/opt/a", IN_A)),
                Map.of("n", "7")));
    assertThat(KeyEntry.fromJson(Json.read(bytes(old)))).isEqualTo(expected);

    try (LocalStore store = LocalStore.open(dir.resolve("store"))) {
      assertThat(store.putBlob(blob)).isEqualTo(digest);
      Path file = dir.resolve("store/keys/" + KEY.hex() + ".json");
      Files.createDirectories(file.getParent());
      Files.writeString(file, old, StandardCharsets.UTF_8);
      assertThat(store.key(KEY)).contains(expected);
      assertThat(Files.readString(file, StandardCharsets.UTF_8))
          .startsWith(
              "{\"name\":\"app\",\"kind\":\"files\",\"diffId\":\""
                  + diffId
                  + "\",\"digest\":\""
                  + digest
                  + "\",\"size\":"
                  + blob.length
                  + ",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                  + "\"inputs\":[{\"name\":\"/opt/a\",\"digest\":\""
                  + IN_A
                  + "\"}],\"metadata\":{\"n\":\"7\"},\"seal\":\"sha256:");
    }
  }
}
