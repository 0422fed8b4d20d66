package dev.kiln.sbom;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.spi.AttestContext;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.ForwardingAttestContext;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerNotes;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bake's SBOMs come from the notes taken while it wrote its layers, not from reading them back; a
 * layer the bake did not write (a cache hit), or one too large to keep notes on, is read back, and
 * either way the documents have the same bytes.
 */
class SbomNotesTest {

  /** Kiln's attestor, counting the layers it found notes on and the layer blobs it read. */
  static final class Counting implements Attestor {
    final Attestor inner;
    final AtomicInteger noted = new AtomicInteger();
    final AtomicInteger read = new AtomicInteger();

    Counting(Attestor inner) {
      this.inner = inner;
    }

    void reset() {
      noted.set(0);
      read.set(0);
    }

    @Override
    public LayerNotes notes(String layerKind) {
      return inner.notes(layerKind);
    }

    @Override
    public List<Attestation> attest(AttestContext ctx) throws IOException {
      ImageView image = ctx.image();
      Set<Digest> layerBlobs =
          Set.copyOf(image.layers().stream().map(LayerRecord::digest).toList());
      ImageView counted =
          new ImageView() {
            @Override
            public Digest digest() {
              return image.digest();
            }

            @Override
            public byte[] manifest() {
              return image.manifest();
            }

            @Override
            public Digest configDigest() {
              return image.configDigest();
            }

            @Override
            public byte[] config() {
              return image.config();
            }

            @Override
            public dev.kiln.ImageConfig runtimeConfig() {
              return image.runtimeConfig();
            }

            @Override
            public List<LayerRecord> layers() {
              return image.layers();
            }

            @Override
            public Digest key() {
              return image.key();
            }

            @Override
            public InputStream openBlob(Digest digest) throws IOException {
              if (layerBlobs.contains(digest)) {
                read.incrementAndGet();
              }
              return image.openBlob(digest);
            }

            @Override
            public long blobSize(Digest digest) throws IOException {
              return image.blobSize(digest);
            }
          };
      return inner.attest(
          new ForwardingAttestContext(ctx) {
            @Override
            public ImageView image() {
              return counted;
            }

            @Override
            public Optional<LayerNotes> notes(LayerRecord layer) {
              Optional<LayerNotes> n = super.notes(layer);
              n.ifPresent(x -> noted.incrementAndGet());
              return n;
            }
          });
    }
  }

  private static void assertSameDocuments(BakeResult a, BakeResult b) {
    assertThat(b.digest()).isEqualTo(a.digest());
    assertThat(a.attestations()).hasSize(3);
    for (Attestation.Kind k : Attestation.Kind.values()) {
      assertThat(new String(b.attestation(k).orElseThrow().content(), UTF_8))
          .as("%s", k)
          .isEqualTo(new String(a.attestation(k).orElseThrow().content(), UTF_8));
    }
  }

  @Test
  void aColdBakeReadsBackNoLayerItWroteAndARebakeThatReadsThemAllGetsTheSameBytes(@TempDir Path tmp)
      throws Exception {
    Counting attestor = new Counting(new KilnAttestor());
    ImageBuild build = new SbomBakeTest().build(tmp);
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp.resolve("store"))
            .sbom(true)
            .provenance(true)
            .attestor(attestor)
            .build()) {
      BakeResult cold = kiln.bake(build);
      assertThat(cold.layers()).hasSize(3);
      assertThat(attestor.noted).hasValue(3);
      assertThat(attestor.read).hasValue(0);

      attestor.reset();
      BakeResult again = kiln.bake(build); // every layer a cache hit: nothing written, all read
      assertThat(attestor.noted).hasValue(0);
      assertThat(attestor.read).hasValue(3);
      assertSameDocuments(cold, again);
    }
  }

  @Test
  void aLayerWithMoreEntriesThanNotesKeepIsReadBackWithTheSameResult(@TempDir Path tmp)
      throws Exception {
    Path tree = Files.createDirectories(tmp.resolve("tree"));
    for (int i = 0; i < 12; i++) {
      Files.writeString(tree.resolve("f" + i), "file " + i);
    }
    Path jar =
        SbomFixtures.jar(tmp.resolve("a.jar"), "g", "a", "groupId=g\nartifactId=a\nversion=1\n");
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("small").add(jar, "/opt/a.jar"))
            .layer(Layer.files("many").addTree(tree, "/data"));
    Counting bounded = new Counting(new KilnAttestor(KilnAttestor.DEFAULT_LIMIT, 5));
    BakeResult a;
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp.resolve("a"))
            .sbom(true)
            .provenance(true)
            .attestor(bounded)
            .build()) {
      a = kiln.bake(build);
    }
    // the small layer's notes were kept and used; the large one's were dropped, so it was read
    assertThat(bounded.noted).hasValue(2);
    assertThat(bounded.read).hasValue(1);
    BakeResult b;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("b")).sbom(true).provenance(true).build()) {
      b = kiln.bake(build);
    }
    assertSameDocuments(a, b);
    assertThat(SbomFixtures.json(a, Attestation.Kind.SPDX).path("files").size()).isEqualTo(12);
  }
}
