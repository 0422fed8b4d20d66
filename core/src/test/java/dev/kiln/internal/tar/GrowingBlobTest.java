package dev.kiln.internal.tar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.internal.tar.TarTestSupport.CompressorPool;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerInProgress;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A layer's blob read while the writer writes it: a reader gets exactly the blob and its end only
 * once the whole blob is written; a failed, abandoned, cut or miscounted write gives readers an
 * error, never the end of a blob.
 */
@Timeout(60)
class GrowingBlobTest {
  @RegisterExtension static final CompressorPool compressors = new CompressorPool(2);
  @TempDir Path tmp;

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Reads the whole stream on another thread, started now. */
  private static CompletableFuture<byte[]> readAll(LayerInProgress blob) {
    return CompletableFuture.supplyAsync(
        () -> {
          try (InputStream in = blob.openBlob()) {
            return in.readAllBytes();
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
  }

  @Test
  void aReaderStartedBeforeTheFirstByteGetsTheWholeBlobOfTheWriter() throws Exception {
    AtomicReference<GrowingBlob> seen = new AtomicReference<>();
    AtomicReference<CompletableFuture<byte[]>> read = new AtomicReference<>();
    LayerBlob blob;
    Path out = Files.createDirectories(tmp.resolve("out"));
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(out, 1, 6, compressors.executor())) {
      w.watchBlob(
          "data",
          b -> {
            seen.set(b);
            read.set(readAll(b));
          });
      w.add(LayerEntry.file("/a.bin", 0644, random(5 << 20, 1)));
      w.add(LayerEntry.file("/b.bin", 0644, random(3 << 20, 2)));
      blob = w.finish();
    }
    byte[] got = read.get().get(30, TimeUnit.SECONDS);
    assertThat(got).isEqualTo(Files.readAllBytes(blob.file()));
    assertThat(Digest.of(got)).isEqualTo(blob.digest());
    LayerInProgress.Written w = seen.get().written().toCompletableFuture().get();
    assertThat(w)
        .isEqualTo(
            new LayerInProgress.Written(
                blob.digest(), blob.size(), blob.diffId(), blob.uncompressedSize()));
    assertThat(seen.get().name()).isEqualTo("data");
    // moved away (as the store commits it) and read again from the first byte: the same bytes
    Files.move(blob.file(), tmp.resolve("moved"));
    try (InputStream in = seen.get().openBlob()) {
      assertThat(in.readAllBytes()).isEqualTo(got);
    }
    assertThat(seen.get().bakeEnded().toCompletableFuture()).isNotDone();
    seen.get().close();
    assertThat(seen.get().bakeEnded().toCompletableFuture()).isCompleted();
    assertThatThrownBy(() -> seen.get().openBlob().read()).isInstanceOf(IOException.class);
  }

  @Test
  void aWriteThatFailsHalfWayGivesReadersAnErrorNotAnEnd() throws Exception {
    AtomicReference<GrowingBlob> seen = new AtomicReference<>();
    AtomicReference<CompletableFuture<byte[]>> read = new AtomicReference<>();
    Path out = Files.createDirectories(tmp.resolve("out"));
    byte[] good = random(4 << 20, 3);
    LayerEntry.Content failing =
        () ->
            new InputStream() {
              int pos;

              @Override
              public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
              }

              @Override
              public int read(byte[] b, int off, int len) throws IOException {
                if (pos >= good.length) {
                  throw new IOException("disk gone");
                }
                int n = Math.min(len, good.length - pos);
                System.arraycopy(good, pos, b, off, n);
                pos += n;
                return n;
              }
            };
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(out, 1, 6, compressors.executor())) {
      w.watchBlob(
          "data",
          b -> {
            seen.set(b);
            read.set(readAll(b));
          });
      w.add(LayerEntry.file("/a.bin", 0644, 8 << 20, failing));
      assertThatThrownBy(w::finish).hasMessageContaining("disk gone");
    }
    assertThatThrownBy(() -> read.get().get(30, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasRootCauseInstanceOf(IOException.class);
    assertThatThrownBy(() -> seen.get().written().toCompletableFuture().get())
        .isInstanceOf(ExecutionException.class);
    // a reader opened afterwards gets the error too, even though part of the file was readable
    assertThatThrownBy(() -> seen.get().openBlob().readAllBytes()).isInstanceOf(IOException.class);
  }

  @Test
  void theTarPreviewHasTheSizeAnnouncedBeforeItIsWrittenAndIsTheDiffIdsBytes() throws Exception {
    Path out = Files.createDirectories(tmp.resolve("out"));
    Path src = Files.writeString(tmp.resolve("hello.txt"), "hello");
    String longName = "opt/" + "very-long-directory-name/".repeat(8) + "é-file.txt";
    AtomicReference<GrowingBlob> seen = new AtomicReference<>();
    AtomicReference<CompletableFuture<byte[]>> tar = new AtomicReference<>();
    Path[] kept = new Path[1];
    LayerBlob blob;
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(out, 1, 6, compressors.executor())) {
      w.keepTar((diffId, size, file) -> kept[0] = file);
      w.watchBlob(
          "all",
          b -> {
            seen.set(b);
            tar.set(
                CompletableFuture.supplyAsync(
                    () -> {
                      try (InputStream in = b.tar().orElseThrow().open()) {
                        return in.readAllBytes();
                      } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                      }
                    }));
          });
      w.add(LayerEntry.file("etc/hello.txt", 0644, src));
      w.add(LayerEntry.file(longName, 0644, random(700_001, 7)).owner(3_000_000, 2_097_152));
      w.add(LayerEntry.directory("tmp", 01777));
      w.add(LayerEntry.symlink("bin", "usr/" + "link-target/".repeat(10) + "bin"));
      w.add(LayerEntry.hardlink("etc/hello2.txt", "etc/hello.txt"));
      w.add(LayerEntry.device("dev/null", LayerEntry.Type.CHAR_DEVICE, 0666, 1, 3));
      w.add(LayerEntry.device("run/fifo", LayerEntry.Type.FIFO, 0644, 0, 0));
      w.add(
          LayerEntry.file("usr/bin/ping", 0755, random(100, 8))
              .xattrs(Map.of("security.capability", new byte[] {1, 0, 0, 2})));
      w.add(LayerEntry.whiteout("var/old"));
      w.add(LayerEntry.opaqueWhiteout("srv"));
      w.add(LayerEntry.file("empty", 0600, new byte[0]));
      blob = w.finish();
    }
    byte[] got = tar.get().get(30, TimeUnit.SECONDS);
    assertThat(seen.get().tar().orElseThrow().size())
        .as("announced before the first byte")
        .isEqualTo(blob.uncompressedSize());
    assertThat(Digest.of(got)).isEqualTo(blob.diffId());
    assertThat(got).isEqualTo(Files.readAllBytes(kept[0]));
  }

  @Test
  void withoutKeptTarsThereIsNoTarPreview() throws Exception {
    AtomicReference<GrowingBlob> seen = new AtomicReference<>();
    Path out = Files.createDirectories(tmp.resolve("out"));
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(out, 1, 6, compressors.executor())) {
      w.watchBlob("x", seen::set);
      w.add(LayerEntry.file("/a", 0644, random(10, 9)));
      w.finish();
    }
    assertThat(seen.get().tar()).isEmpty();
  }

  private GrowingBlob blobOf(Path file, OutputStream[] out) throws IOException {
    GrowingBlob b = new GrowingBlob("x", file);
    out[0] = b.counting(Files.newOutputStream(file));
    return b;
  }

  @Test
  void aReaderWaitingWhenTheBakeEndsIsReleasedWithAnError() throws Exception {
    Path f = Files.createFile(tmp.resolve("blob"));
    OutputStream[] out = new OutputStream[1];
    GrowingBlob b = blobOf(f, out);
    out[0].write(random(1000, 4));
    CompletableFuture<byte[]> r = readAll(b);
    b.close(); // the bake ended: the writer will never finish
    assertThatThrownBy(() -> r.get(30, TimeUnit.SECONDS))
        .hasMessageContaining("layer 'x' was not written")
        .hasRootCauseMessage("the bake ended");
    out[0].close();
  }

  @Test
  void availableAndSkipCountWrittenBytesAndNeverWait() throws Exception {
    Path f = Files.createFile(tmp.resolve("blob"));
    OutputStream[] out = new OutputStream[1];
    GrowingBlob b = blobOf(f, out);
    byte[] bytes = random(1500, 10);
    out[0].write(bytes, 0, 1000);
    try (InputStream in = b.openBlob()) {
      assertThat(in.available()).isEqualTo(1000);
      assertThat(in.skip(600)).isEqualTo(600);
      assertThat(in.available()).isEqualTo(400);
      assertThat(in.skip(1000)).as("only what is written").isEqualTo(400);
      assertThat(in.available()).isZero();
      out[0].write(bytes, 1000, 500);
      assertThat(in.available()).isEqualTo(500);
      byte[] rest = new byte[500];
      assertThat(in.readNBytes(rest, 0, 500)).isEqualTo(500);
      assertThat(rest).isEqualTo(java.util.Arrays.copyOfRange(bytes, 1000, 1500));
      b.fail(new IOException("gone"));
      assertThatThrownBy(in::available).isInstanceOf(IOException.class);
      assertThatThrownBy(() -> in.skip(1)).isInstanceOf(IOException.class);
    }
    out[0].close();
    b.close();
  }

  @Test
  void aBlobWhoseWriterReportsAnotherSizeThanItWroteNeverEnds() throws Exception {
    Path f = Files.createFile(tmp.resolve("blob"));
    OutputStream[] out = new OutputStream[1];
    GrowingBlob b = blobOf(f, out);
    byte[] bytes = random(1000, 5);
    out[0].write(bytes);
    out[0].close();
    b.complete(new LayerInProgress.Written(Digest.of(bytes), 999, Digest.of(bytes), 2000));
    assertThatThrownBy(() -> b.openBlob().readAllBytes())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("wrote 1000 bytes, not 999");
    assertThatThrownBy(() -> b.written().toCompletableFuture().get())
        .isInstanceOf(ExecutionException.class);
  }

  @Test
  void aFileCutShortUnderTheReaderIsAnErrorNotAShortBlob() throws Exception {
    Path f = Files.createFile(tmp.resolve("blob"));
    OutputStream[] out = new OutputStream[1];
    GrowingBlob b = blobOf(f, out);
    byte[] bytes = random(100_000, 6);
    out[0].write(bytes);
    out[0].close();
    b.complete(new LayerInProgress.Written(Digest.of(bytes), bytes.length, Digest.of(bytes), 1));
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(50_000); // another process cut the file
    }
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    assertThatThrownBy(() -> b.openBlob().transferTo(got))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("its file ended at 50000 bytes");
    b.close();
  }
}
