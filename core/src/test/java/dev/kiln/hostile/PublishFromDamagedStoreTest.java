package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Kiln.publish of a stored image whose blobs were damaged after the bake: it fails with a message
 * that says so and what to do, hands no damaged bytes to the target, and removes the damaged blob
 * so that the next bake restores it.
 */
class PublishFromDamagedStoreTest {
  @TempDir Path dir;

  enum Part {
    LAYER,
    CONFIG,
    MANIFEST
  }

  static ImageBuild build() {
    byte[] data = new byte[200_000];
    new Random(3).nextBytes(data);
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("data").content("/data.bin", data, 0644))
        .layer(Layer.files("app").content("/app/v", "1".getBytes(StandardCharsets.UTF_8), 0644));
  }

  @ParameterizedTest
  @EnumSource(Part.class)
  void aDamagedBlobIsNeverPublishedAndTheNextBakeRestoresIt(Part part) throws Exception {
    try (Kiln k = Kiln.builder().store(dir.resolve("store")).build()) {
      BakeResult r = k.bake(build());
      LayerRecord layer = r.layers().get(0);
      Path blob =
          dir.resolve(
              "store/blobs/sha256/"
                  + switch (part) {
                    case LAYER -> layer.digest().hex();
                    case CONFIG -> r.configDigest().hex();
                    case MANIFEST -> r.digest().hex();
                  });
      byte[] bytes = Files.readAllBytes(blob);
      bytes[bytes.length / 2] ^= 0x55; // same size, other content
      Files.write(blob, bytes);

      Path archive = dir.resolve("out/app.tar");
      assertThatThrownBy(() -> k.publish(r.digest(), "oci-archive:" + archive))
          .isInstanceOf(BakeException.class)
          .hasMessageContaining("is damaged")
          .hasMessageContaining("bake the image again");
      assertThat(archive).doesNotExist();
      assertThat(blob).doesNotExist();

      BakeResult again = k.bake(build(), "oci-archive:" + archive);
      assertThat(again.digest()).isEqualTo(r.digest());
      assertThat(archive).isRegularFile();
      assertThat(k.publish(r.digest(), "oci:" + dir.resolve("layout") + ":v").values())
          .allSatisfy(p -> assertThat(p.digest()).isEqualTo(r.digest()));
    }
  }
}
