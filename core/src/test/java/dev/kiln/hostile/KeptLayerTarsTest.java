package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.spi.CorruptBlobException;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.PublishContext;
import dev.kiln.spi.UncompressedLayers;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The uncompressed tars a bake keeps for targets that read layers uncompressed (the Docker daemon):
 * offered only for layers the bake wrote and only to such targets, exactly the bytes of the diffID,
 * removed when the bake ends; and a kept tar damaged, cut short, lengthened or changed while it is
 * read never yields its whole content: the stream fails before its last bytes.
 */
class KeptLayerTarsTest {
  @TempDir Path dir;

  /** What a probe target does while it publishes. */
  interface Probe {
    void publish(ImageView image, UncompressedLayers tars) throws IOException;
  }

  private static ImageBuild build() {
    byte[] data = new byte[300_000];
    new Random(7).nextBytes(data);
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("data").content("/data.bin", data, 0644))
        .layer(Layer.files("app").content("/app/v", "1".getBytes(StandardCharsets.UTF_8), 0644));
  }

  private BakeResult bake(boolean readsUncompressed, Probe probe) throws Exception {
    ImageStoreProvider provider =
        new ImageStoreProvider() {
          @Override
          public Set<String> schemes() {
            return Set.of("probe");
          }

          @Override
          public ImageStore create(Target target) {
            return new ImageStore() {
              @Override
              public boolean readsUncompressedLayers() {
                return readsUncompressed;
              }

              @Override
              public PublishedImage publish(ImageView image, PublishContext ctx) {
                try {
                  probe.publish(image, ctx.capability(UncompressedLayers.class).orElseThrow());
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
                return new PublishedImage(target.toString(), image.digest(), false, Map.of());
              }
            };
          }
        };
    try (Kiln k = Kiln.builder().store(dir.resolve("store")).imageStores(provider).build()) {
      return k.bake(build(), "probe:x");
    }
  }

  private List<Path> keptTars() throws IOException {
    try (Stream<Path> s = Files.walk(dir.resolve("store/tmp"))) {
      return s.filter(p -> p.getFileName().toString().matches("kiln-layer-.*\\.tar")).toList();
    }
  }

  @Test
  void theTarsOfTheLayersTheBakeWroteAreTheirDiffIdsBytesAndGoWhenItEnds() throws Exception {
    List<Path> seen = new ArrayList<>();
    BakeResult r =
        bake(
            true,
            (image, tars) -> {
              seen.addAll(keptTars());
              for (LayerRecord l : image.layers()) {
                byte[] tar;
                try (InputStream in = tars.open(l.diffId(), l.uncompressedSize()).orElseThrow()) {
                  tar = in.readAllBytes();
                }
                assertThat(Digest.of(tar)).isEqualTo(l.diffId());
                try (InputStream blob = new GZIPInputStream(image.openBlob(l.digest()))) {
                  assertThat(tar).isEqualTo(blob.readAllBytes());
                }
                assertThat(tars.open(l.diffId(), l.uncompressedSize() + 1))
                    .as("a tar of another size than the layer's")
                    .isEmpty();
              }
            });
    assertThat(r.provisioned()).containsExactly("data", "app");
    assertThat(seen).as("one kept tar per layer written").hasSize(2);
    for (Path p : seen) {
      assertThat(p).as("removed at the end of the bake").doesNotExist();
    }
  }

  @Test
  void nothingIsKeptForTargetsThatReadCompressedLayers() throws Exception {
    bake(
        false,
        (image, tars) -> {
          assertThat(keptTars()).isEmpty();
          for (LayerRecord l : image.layers()) {
            assertThat(tars.open(l.diffId(), l.uncompressedSize())).isEmpty();
          }
        });
  }

  @Test
  void layersFoundInTheStoreHaveNoTar() throws Exception {
    bake(true, (image, tars) -> {});
    BakeResult again =
        bake(
            true,
            (image, tars) -> {
              assertThat(keptTars()).isEmpty();
              for (LayerRecord l : image.layers()) {
                assertThat(tars.open(l.diffId(), l.uncompressedSize())).isEmpty();
              }
            });
    assertThat(again.provisioned()).isEmpty();
  }

  enum Damage {
    BYTE_CHANGED_IN_THE_MIDDLE,
    LAST_BYTE_CHANGED,
    CUT_SHORT,
    LENGTHENED
  }

  @ParameterizedTest
  @EnumSource(Damage.class)
  void aKeptTarChangedAfterItWasOpenedFailsBeforeItsLastBytes(Damage damage) throws Exception {
    long[] handedOut = {-1};
    long[] size = {-1};
    bake(
        true,
        (image, tars) -> {
          LayerRecord l = image.layers().get(0);
          size[0] = l.uncompressedSize();
          Path file =
              keptTars().stream()
                  .filter(p -> Digest.of(readAll(p)).equals(l.diffId()))
                  .findFirst()
                  .orElseThrow();
          Optional<InputStream> opened = tars.open(l.diffId(), l.uncompressedSize());
          assertThat(opened).isPresent();
          try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            switch (damage) {
              case BYTE_CHANGED_IN_THE_MIDDLE -> flip(f, f.length() / 2);
              case LAST_BYTE_CHANGED -> flip(f, f.length() - 1);
              case CUT_SHORT -> f.setLength(f.length() - 1);
              case LENGTHENED -> {
                f.seek(f.length());
                f.write(0);
              }
            }
          }
          byte[] buf = new byte[8192];
          try (InputStream in = opened.get()) {
            assertThatThrownBy(
                    () -> {
                      long got = 0;
                      for (int k; (k = in.read(buf)) > 0; ) {
                        got += k;
                        handedOut[0] = got;
                      }
                    })
                .isInstanceOf(CorruptBlobException.class)
                .hasMessageContaining(l.diffId().toString());
          }
        });
    assertThat(size[0]).isGreaterThan(100_000);
    assertThat(handedOut[0])
        .as("bytes of the damaged tar handed out before the error")
        .isLessThan(size[0]);
  }

  private static void flip(RandomAccessFile f, long at) throws IOException {
    f.seek(at);
    int b = f.read();
    f.seek(at);
    f.write(b ^ 0x5a);
  }

  private static byte[] readAll(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
