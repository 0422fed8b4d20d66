package dev.kiln.internal.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.store.KeyEntry;
import dev.kiln.spi.Fingerprint;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A key entry ({@code keys/}) and a layer of an image record ({@code records/}) are two views of
 * one {@link LayerRecord}: each leaves out what its file does not hold, and both read what an older
 * file leaves out the same way.
 */
class StoredLayerViewsTest {
  static final Digest KEY = Digest.of(bytes("key"));
  static final Digest DIFF_ID = Digest.of(bytes("diff"));
  static final Digest BLOB = Digest.of(bytes("blob"));
  static final Digest IN_A = Digest.of(bytes("a"));

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static LayerRecord layer(Digest key, String mediaType) {
    return new LayerRecord(
        "app",
        "files",
        key,
        DIFF_ID,
        BLOB,
        1234,
        5678,
        mediaType,
        List.of(new Fingerprint.Input("/opt/a", IN_A)),
        Map.of("apt.curl", "7.88.1-10"));
  }

  static ImageRecord record(LayerRecord l) {
    return new ImageRecord(ImageRecord.SCHEMA, BLOB, BLOB, KEY, "scratch", "now", List.of(l));
  }

  static LayerRecord recordLayer(String layerJson) throws Exception {
    return ImageRecord.read(bytes("{\"layers\":[" + layerJson + "]}")).layers().get(0);
  }

  @Test
  void aKeyEntryLeavesTheKeyOutAndAnImageRecordTheMediaType() throws Exception {
    LayerRecord l = layer(KEY, LayerRecord.GZIP_LAYER);
    String entry = new String(Json.bytes(new KeyEntry(layer(null, l.mediaType())).toJson()));
    String inRecord = new String(Json.bytes(record(l).toJson().path("layers").get(0)));

    assertThat(entry).doesNotContain("\"key\"").contains("\"mediaType\"");
    assertThat(inRecord).doesNotContain("\"mediaType\"").contains("\"key\":\"" + KEY + "\"");
    assertThat(KeyEntry.fromJson(Json.read(bytes(entry))).layer())
        .isEqualTo(layer(null, l.mediaType()));
    assertThat(recordLayer(inRecord)).isEqualTo(layer(KEY, ""));
  }

  /**
   * A key in a key entry (a file that is a whole layer record) is not the entry's: its file name
   * is.
   */
  @Test
  void aKeyInAKeyEntryIsIgnored() throws Exception {
    LayerRecord l = layer(null, LayerRecord.GZIP_LAYER);
    String entry = new String(Json.bytes(new KeyEntry(l).toJson()));
    String withKey =
        entry.replace("\"kind\":\"files\",", "\"kind\":\"files\",\"key\":\"" + KEY + "\",");
    assertThat(withKey).contains(KEY.toString());

    assertThat(KeyEntry.fromJson(Json.read(bytes(withKey))).layer()).isEqualTo(l);
  }

  /**
   * What an older file leaves out (or writes as null) reads alike in both views: no name, kind or
   * media type, no inputs or metadata, an unknown uncompressed size.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"diffId\":\"D\",\"digest\":\"B\"}",
        "{\"name\":null,\"kind\":null,\"diffId\":\"D\",\"digest\":\"B\",\"uncompressedSize\":null,"
            + "\"mediaType\":null,\"inputs\":null,\"metadata\":null}"
      })
  void absentFieldsReadAlikeInBothViews(String json) throws Exception {
    String layer =
        json.replace("\"D\"", "\"" + DIFF_ID + "\"").replace("\"B\"", "\"" + BLOB + "\"");
    LayerRecord empty =
        new LayerRecord("", "", null, DIFF_ID, BLOB, 0, -1, "", List.of(), Map.of());

    assertThat(KeyEntry.fromJson(Json.read(bytes(layer))).layer()).isEqualTo(empty);
    assertThat(recordLayer(layer)).isEqualTo(empty);
  }
}
