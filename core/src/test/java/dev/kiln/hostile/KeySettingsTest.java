package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The settings that shape a layer's bytes (the time stamped on its entries, the gzip level) are
 * part of its key: a store that baked a definition with other settings does not hand its layers to
 * this bake, so the layers are those a store that never saw the other settings writes. Before, a CI
 * job that sets SOURCE_DATE_EPOCH to each commit's time got the previous commit's layers back,
 * stamped with the previous time.
 */
class KeySettingsTest {
  @TempDir Path dir;

  private static ImageBuild build() {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("app").content("/app/v", "1".getBytes(StandardCharsets.UTF_8), 0644));
  }

  private BakeResult bake(Path store, UnaryOperator<Kiln.Builder> settings) throws Exception {
    try (Kiln k = settings.apply(Kiln.builder().store(store)).build()) {
      return k.bake(build(), "oci:" + dir.resolve("out-" + System.nanoTime()));
    }
  }

  private static List<String> layers(BakeResult r) {
    return r.layers().stream().map(LayerRecord::digest).map(Object::toString).toList();
  }

  @Test
  void anotherSourceDateEpochGetsTheLayersAFreshStoreWrites() throws Exception {
    Path shared = dir.resolve("shared");
    BakeResult first = bake(shared, b -> b.sourceDateEpoch(1_700_000_000L));
    BakeResult again = bake(shared, b -> b.sourceDateEpoch(1_700_000_600L));
    BakeResult fresh = bake(dir.resolve("fresh"), b -> b.sourceDateEpoch(1_700_000_600L));
    assertThat(layers(again)).isEqualTo(layers(fresh)).isNotEqualTo(layers(first));
    assertThat(again.provisioned()).containsExactly("app");
    assertThat(again.digest()).isEqualTo(fresh.digest());
  }

  @Test
  void anotherCompressionLevelGetsTheLayersAFreshStoreWrites() throws Exception {
    Path shared = dir.resolve("shared");
    bake(shared, b -> b.compressionLevel(1));
    BakeResult again = bake(shared, b -> b.compressionLevel(9));
    BakeResult fresh = bake(dir.resolve("fresh"), b -> b.compressionLevel(9));
    assertThat(layers(again)).isEqualTo(layers(fresh));
    assertThat(again.digest()).isEqualTo(fresh.digest());
  }

  @Test
  void theDefaultsKeepTheKeysTheyHadSoExistingStoresStillHit() throws Exception {
    Path shared = dir.resolve("shared");
    BakeResult first = bake(shared, b -> b.sourceDateEpoch(1).compressionLevel(6));
    BakeResult again = bake(shared, b -> b.sourceDateEpoch(1).compressionLevel(6));
    assertThat(again.provisioned()).isEmpty();
    assertThat(first.layers().get(0).key())
        .as("the key of this layer before settings were part of keys")
        .hasToString(KEY_BEFORE);
  }

  private static final String KEY_BEFORE =
      "sha256:b67fed690b527d04d81e120fda6e4b0bddb7c67dbae53bcd983f2d83463c5f9d";
}
