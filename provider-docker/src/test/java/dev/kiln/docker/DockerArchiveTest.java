package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.spi.CorruptBlobException;
import dev.kiln.spi.ImageView;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;

/**
 * The archive streamed to {@code docker load}: which layers go in, and decompressed or as stored.
 */
class DockerArchiveTest {

  private static final class Layer {
    final byte[] tar;
    final byte[] gzip;

    Layer(String name, int size, int seed) throws IOException {
      byte[] content = new byte[size];
      new Random(seed).nextBytes(content);
      for (int i = 0; i < size; i += 2) {
        content[i] = 'k';
      }
      ByteArrayOutputStream t = new ByteArrayOutputStream();
      try (TarArchiveOutputStream out = new TarArchiveOutputStream(t)) {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(size);
        out.putArchiveEntry(e);
        out.write(content);
        out.closeArchiveEntry();
      }
      tar = t.toByteArray();
      ByteArrayOutputStream g = new ByteArrayOutputStream();
      try (GZIPOutputStream out = new GZIPOutputStream(g)) {
        out.write(tar);
      }
      gzip = g.toByteArray();
    }

    LayerRecord record(long uncompressedSize) {
      return new LayerRecord(
          "l",
          "files",
          Digest.of(tar),
          Digest.of(tar),
          Digest.of(gzip),
          gzip.length,
          uncompressedSize,
          LayerRecord.GZIP_LAYER,
          List.of(),
          Map.of());
    }
  }

  /**
   * An image whose blobs are served from memory, checked against their digests as the store's
   * streams are.
   */
  private static ImageView image(List<LayerRecord> layers, Map<Digest, byte[]> blobs) {
    byte[] config = "{}".getBytes(StandardCharsets.UTF_8);
    return new ImageView() {
      public Digest digest() {
        return Digest.of(new byte[] {1});
      }

      public byte[] manifest() {
        return new byte[0];
      }

      public Digest configDigest() {
        return Digest.of(config);
      }

      public byte[] config() {
        return config;
      }

      public ImageConfig runtimeConfig() {
        return ImageConfig.empty();
      }

      public List<LayerRecord> layers() {
        return layers;
      }

      public Digest key() {
        return digest();
      }

      public InputStream openBlob(Digest d) {
        byte[] b = blobs.get(d);
        com.google.common.hash.Hasher h = Hashing.sha256().newHasher();
        return new java.io.FilterInputStream(new ByteArrayInputStream(b)) {
          private boolean checked;

          @Override
          public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
          }

          @Override
          public int read(byte[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            if (n > 0) {
              h.putBytes(buf, off, n);
            } else if (n < 0 && !checked) {
              checked = true;
              if (!h.hash().toString().equals(d.hex())) {
                throw new CorruptBlobException(d, "blob " + d + " is corrupt");
              }
            }
            return n;
          }
        };
      }

      public long blobSize(Digest d) {
        return blobs.get(d).length;
      }
    };
  }

  private static Map<String, byte[]> entries(byte[] archive) throws IOException {
    Map<String, byte[]> out = new LinkedHashMap<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(archive))) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        out.put(e.getName(), in.readAllBytes());
      }
    }
    return out;
  }

  @Test
  void aLayerOfKnownSizeGoesInDecompressedAndOneOfUnknownSizeAsStored() throws IOException {
    Layer a = new Layer("a", 300_000, 1);
    Layer b = new Layer("b", 200_000, 2);
    LayerRecord known = a.record(a.tar.length);
    LayerRecord unknown = b.record(-1);
    ImageView image =
        image(List.of(known, unknown), Map.of(known.digest(), a.gzip, unknown.digest(), b.gzip));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long[] progress = {0};
    DockerArchive.write(image, "kiln/test:1", 0, out, n -> progress[0] = n);
    Map<String, byte[]> entries = entries(out.toByteArray());
    assertThat(entries.get(known.digest().hex() + "/layer.tar")).isEqualTo(a.tar);
    assertThat(entries.get(unknown.digest().hex() + "/layer.tar")).isEqualTo(b.gzip);
    assertThat(progress[0])
        .as("progress counts blob bytes")
        .isEqualTo(a.gzip.length + b.gzip.length);
    assertThat(new String(entries.get("manifest.json"), StandardCharsets.UTF_8))
        .contains("kiln/test:1");
  }

  @Test
  void layersTheDaemonHoldsAreLeftOut() throws IOException {
    Layer a = new Layer("a", 1000, 1);
    Layer b = new Layer("b", 1000, 2);
    LayerRecord la = a.record(a.tar.length);
    LayerRecord lb = b.record(b.tar.length);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    DockerArchive.write(
        image(List.of(la, lb), Map.of(la.digest(), a.gzip, lb.digest(), b.gzip)),
        null,
        1,
        out,
        n -> {});
    assertThat(entries(out.toByteArray()))
        .containsKey(lb.digest().hex() + "/layer.tar")
        .doesNotContainKey(la.digest().hex() + "/layer.tar");
  }

  @Test
  void aCorruptBlobOrAWrongSizeFailsTheArchive() throws IOException {
    Layer a = new Layer("a", 300_000, 1);
    LayerRecord known = a.record(a.tar.length);
    byte[] flipped = a.gzip.clone();
    flipped[flipped.length / 2] ^= 1;
    assertThatThrownBy(
            () ->
                DockerArchive.write(
                    image(List.of(known), Map.of(known.digest(), flipped)),
                    null,
                    0,
                    new ByteArrayOutputStream(),
                    n -> {}))
        .isInstanceOf(IOException.class);
    // bytes after the gzip member inflate to nothing; only the blob digest, checked at the blob's
    // end, catches them
    byte[] longer = java.util.Arrays.copyOf(a.gzip, a.gzip.length + 7);
    assertThatThrownBy(
            () ->
                DockerArchive.write(
                    image(List.of(known), Map.of(known.digest(), longer)),
                    null,
                    0,
                    new ByteArrayOutputStream(),
                    n -> {}))
        .isInstanceOf(CorruptBlobException.class);

    LayerRecord lying = a.record(a.tar.length + 512);
    assertThatThrownBy(
            () ->
                DockerArchive.write(
                    image(List.of(lying), Map.of(lying.digest(), a.gzip)),
                    null,
                    0,
                    new ByteArrayOutputStream(),
                    n -> {}))
        .isInstanceOf(IOException.class);
  }
}
