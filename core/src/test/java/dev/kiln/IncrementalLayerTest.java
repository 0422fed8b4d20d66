package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A layer rewritten after a change copies the gzip chunks it shares with its previous version in
 * the store; the blob must be exactly the one a fresh store bakes.
 */
class IncrementalLayerTest {
  @TempDir Path tmp;
  private Path src;
  private ImageBuild build;
  private Path store;

  @BeforeEach
  void setUp() throws IOException {
    src = tree();
    build = ImageBuild.from(Base.scratch()).layer(Layer.files("big").add(src, "/opt/big"));
    store = tmp.resolve("store");
  }

  private Path tree() throws IOException {
    Path root = Files.createDirectories(tmp.resolve("tree"));
    Random r = new Random(11);
    for (int i = 0; i < 400; i++) {
      byte[] b = new byte[i % 40 == 0 ? 900_000 : 2_000 + r.nextInt(30_000)];
      r.nextBytes(b);
      for (int j = 0; j < b.length; j += 3) {
        b[j] = (byte) ('a' + j % 7); // compressible, as real files are
      }
      Path f = root.resolve("d" + i % 9).resolve("f" + i);
      Files.createDirectories(f.getParent());
      Files.write(f, b);
    }
    return root;
  }

  private static BakeResult bake(Path store, ImageBuild build) throws Exception {
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      return kiln.bake(build);
    }
  }

  private static long chunkIndexes(Path store) throws IOException {
    try (Stream<Path> s = Files.list(store.resolve("chunks"))) {
      return s.filter(Files::isRegularFile).count();
    }
  }

  @Test
  void aLayerRewrittenAfterAChangeIsTheBlobAFreshStoreBakes() throws Exception {
    BakeResult first = bake(store, build);
    assertThat(chunkIndexes(store)).isEqualTo(1);

    // one small file changes size, one large file changes in place, one file goes
    Files.writeString(src.resolve("d3/f3"), "a different, shorter file");
    byte[] large = Files.readAllBytes(src.resolve("d0/f0"));
    large[large.length / 2] ^= 1;
    Files.write(src.resolve("d0/f0"), large);
    Files.delete(src.resolve("d5/f5"));

    BakeResult second = bake(store, build);
    BakeResult fresh = bake(tmp.resolve("fresh"), build);
    assertThat(second.provisioned()).containsExactly("big");
    assertThat(second.layers().get(0).digest()).isNotEqualTo(first.layers().get(0).digest());
    assertThat(second.layers()).isEqualTo(fresh.layers());
    assertThat(second.digest()).isEqualTo(fresh.digest());
    assertThat(chunkIndexes(store)).as("one chunk index per blob").isEqualTo(2);
    try (Stream<Path> lineage = Files.list(store.resolve("chunks/lineage"))) {
      assertThat(Files.readString(lineage.findFirst().orElseThrow()))
          .isEqualTo(second.layers().get(0).digest().hex());
    }
  }

  @Test
  void aStoreWithDamagedChunksStillBakesTheRightBlob() throws Exception {
    BakeResult first = bake(store, build);
    // the previous blob damaged on disk: its chunks no longer match their recorded SHA-256
    Path blob = store.resolve("blobs/sha256").resolve(first.layers().get(0).digest().hex());
    byte[] bytes = Files.readAllBytes(blob);
    for (int i = 1000; i < bytes.length; i += 50_000) {
      bytes[i] ^= 1;
    }
    blob.toFile().setWritable(true);
    Files.write(blob, bytes);
    Files.writeString(src.resolve("d1/f1"), "changed");

    BakeResult second = bake(store, build);
    BakeResult fresh = bake(tmp.resolve("fresh"), build);
    assertThat(second.layers()).isEqualTo(fresh.layers());
  }
}
