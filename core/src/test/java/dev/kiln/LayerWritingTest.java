package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerInProgress;
import dev.kiln.spi.PublishContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ImageStore#layerWriting}: a store sees each layer the bake writes for its image while it
 * is written, and what it reads is the blob the image names; cache hits are not offered; a store
 * that fails there does not fail the bake.
 */
@Timeout(120)
class LayerWritingTest {
  @TempDir Path dir;

  private static ImageBuild build(String app) {
    byte[] data = new byte[3_000_000];
    new Random(7).nextBytes(data);
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("data").content("/data.bin", data, 0644))
        .layer(Layer.files("app").content("/app/v", app.getBytes(StandardCharsets.UTF_8), 0644));
  }

  /** A target that reads every layer offered to it while it is written. */
  private static final class Probe implements ImageStoreProvider {
    final List<String> offered = new CopyOnWriteArrayList<>();
    final Map<String, CompletableFuture<byte[]>> read = new ConcurrentHashMap<>();
    final Map<String, CompletableFuture<LayerInProgress.Written>> written =
        new ConcurrentHashMap<>();
    final Map<Digest, byte[]> published = new ConcurrentHashMap<>();
    boolean fail;

    @Override
    public Set<String> schemes() {
      return Set.of("probe");
    }

    @Override
    public ImageStore create(Target target) {
      return new ImageStore() {
        @Override
        public void layerWriting(LayerInProgress layer, PublishContext context) {
          offered.add(layer.name());
          if (fail) {
            throw new IllegalStateException("probe refuses");
          }
          written.put(layer.name(), layer.written().toCompletableFuture());
          read.put(
              layer.name(),
              CompletableFuture.supplyAsync(
                  () -> {
                    try (InputStream in = layer.openBlob()) {
                      return in.readAllBytes();
                    } catch (IOException e) {
                      throw new UncheckedIOException(e);
                    }
                  }));
        }

        @Override
        public PublishedImage publish(ImageView image, PublishContext ctx) {
          for (LayerRecord l : image.layers()) {
            try (InputStream in = image.openBlob(l.digest())) {
              published.put(l.digest(), in.readAllBytes());
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }
          return new PublishedImage(target.toString(), image.digest(), false, Map.of());
        }
      };
    }
  }

  private BakeResult bake(Probe probe, String app) throws Exception {
    try (Kiln k = Kiln.builder().store(dir.resolve("store")).imageStores(probe).build()) {
      return k.bake(build(app), "probe:x");
    }
  }

  @Test
  void eachLayerWrittenIsOfferedAndReadsAsTheBlobTheImageNames() throws Exception {
    Probe p = new Probe();
    BakeResult r = bake(p, "1");
    assertThat(p.offered).containsExactlyInAnyOrder("data", "app");
    for (LayerRecord l : r.layers()) {
      byte[] got = p.read.get(l.name()).get(60, TimeUnit.SECONDS);
      assertThat(Digest.of(got)).as(l.name()).isEqualTo(l.digest());
      assertThat(got).isEqualTo(p.published.get(l.digest()));
      assertThat(p.written.get(l.name()).get())
          .isEqualTo(
              new LayerInProgress.Written(l.digest(), l.size(), l.diffId(), l.uncompressedSize()));
    }

    Probe again = new Probe();
    BakeResult changed = bake(again, "2");
    assertThat(changed.provisioned()).containsExactly("app");
    assertThat(again.offered).as("cache hits are not offered").containsExactly("app");
    LayerRecord app = changed.layers().get(1);
    assertThat(Digest.of(again.read.get("app").get(60, TimeUnit.SECONDS))).isEqualTo(app.digest());
  }

  @Test
  void aStoreThatFailsWhenOfferedALayerDoesNotFailTheBake() throws Exception {
    Probe p = new Probe();
    p.fail = true;
    BakeResult r = bake(p, "1");
    assertThat(p.offered).containsExactlyInAnyOrder("data", "app");
    assertThat(r.published()).containsKey("probe:x");
    assertThat(p.published).hasSize(2);
  }
}
