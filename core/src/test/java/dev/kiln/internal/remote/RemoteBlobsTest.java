package dev.kiln.internal.remote;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.internal.store.KeyEntry;
import dev.kiln.spi.RemoteCache;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongConsumer;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The check that runs while a remote blob downloads: right blobs pass however they arrive, wrong
 * ones never do.
 */
class RemoteBlobsTest {
  @TempDir Path tmp;
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  /** How a fake backend writes the blob into the file. */
  interface Writer {
    void write(byte[] blob, Path dest, LongConsumer progress) throws IOException;
  }

  private static final byte[] RAW = new byte[3_000_000];
  private static final byte[] GZ;

  static {
    new Random(7).nextBytes(RAW);
    for (int i = 0; i < RAW.length; i += 3) {
      RAW[i] = 'k'; // compressible, so the gzip stream is much shorter than the layer
    }
    ByteArrayOutputStream bo = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bo)) {
      gz.write(RAW);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    GZ = bo.toByteArray();
  }

  private static KeyEntry entry(byte[] blob, byte[] raw) {
    return new KeyEntry(
        new LayerRecord(
            "app",
            "files",
            null,
            Digest.of(raw),
            Digest.of(blob),
            blob.length,
            raw.length,
            LayerRecord.GZIP_LAYER,
            List.of(),
            Map.of()));
  }

  private Optional<String> fetch(Writer w, KeyEntry e) throws IOException {
    return fetch(w, e, true);
  }

  private Optional<String> fetch(Writer w, KeyEntry e, boolean diffIds) throws IOException {
    Path dest = tmp.resolve("blob-" + System.nanoTime());
    return RemoteBlobs.fetchAndCheck(remote(w), e, dest, diffIds, n -> {}, pool);
  }

  @Test
  void aBlobWrittenInPiecesWithProgressPasses() throws IOException {
    assertThat(fetch(RemoteBlobsTest::inPieces, entry(GZ, RAW))).isEmpty();
  }

  @Test
  void progressReportedBeforeTheBytesReachTheFileStillPasses() throws IOException {
    Writer early =
        (blob, dest, progress) -> {
          try (OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW)) {
            for (int off = 0; off < blob.length; off += 50_000) {
              int n = Math.min(50_000, blob.length - off);
              progress.accept(off + n); // told first, written after
              sleep(1);
              out.write(blob, off, n);
              out.flush();
            }
          }
        };
    assertThat(fetch(early, entry(GZ, RAW))).isEmpty();
  }

  @Test
  void aBackendThatWritesOutOfOrderIsCheckedAgainOnTheWholeFile() throws IOException {
    Writer backwards =
        (blob, dest, progress) -> {
          Files.write(
              dest, new byte[blob.length]); // zeros first, as a preallocating download would
          progress.accept(blob.length / 2);
          sleep(20);
          try (var ch = java.nio.channels.FileChannel.open(dest, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(blob), 0);
          }
          progress.accept(blob.length);
        };
    assertThat(fetch(backwards, entry(GZ, RAW))).isEmpty();
  }

  @Test
  void aWrongBlobIsReportedWhateverItsArrival() throws IOException {
    byte[] bad = GZ.clone();
    bad[bad.length / 2] ^= 1;
    Writer corrupt = (blob, dest, progress) -> inPieces(bad, dest, progress);
    assertThat(fetch(corrupt, entry(GZ, RAW)))
        .get()
        .asString()
        .containsAnyOf("hashes to", "not a gzip stream");
    Writer truncated =
        (blob, dest, progress) ->
            inPieces(java.util.Arrays.copyOf(blob, blob.length - 10), dest, progress);
    assertThat(fetch(truncated, entry(GZ, RAW))).isPresent();
  }

  @Test
  void aDiffIdThatLiesIsReportedWhenContentIsChecked() throws IOException {
    byte[] other = RAW.clone();
    other[0] ^= 1;
    assertThat(fetch(RemoteBlobsTest::inPieces, entry(GZ, other)))
        .get()
        .asString()
        .contains("diffID");
    assertThat(fetch(RemoteBlobsTest::inPieces, entry(GZ, other), false))
        .as("digest only: the diffID is the entry's")
        .isEmpty();
  }

  @Test
  void theDigestCheckAloneStillCatchesEveryWrongByte() throws IOException {
    byte[] bad = GZ.clone();
    bad[bad.length - 20] ^= 1; // in the deflate stream's tail, where only a full read notices
    Writer corrupt = (blob, dest, progress) -> inPieces(bad, dest, progress);
    assertThat(fetch(corrupt, entry(GZ, RAW), false)).get().asString().contains("hashes to");
    Writer longer =
        (blob, dest, progress) ->
            inPieces(java.util.Arrays.copyOf(blob, blob.length + 1), dest, progress);
    assertThat(fetch(longer, entry(GZ, RAW), false)).get().asString().contains("bytes");
    assertThat(fetch(RemoteBlobsTest::inPieces, entry(GZ, RAW), false)).isEmpty();
  }

  private static void inPieces(byte[] blob, Path dest, LongConsumer progress) throws IOException {
    try (OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW)) {
      for (int off = 0; off < blob.length; off += 64_000) {
        int n = Math.min(64_000, blob.length - off);
        out.write(blob, off, n);
        out.flush();
        progress.accept(off + n);
        if (off % 256_000 == 0) {
          sleep(2);
        }
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static RemoteCache remote(Writer w) {
    return new RemoteCache() {
      @Override
      public String describe() {
        return "fake";
      }

      @Override
      public boolean hasBlob(Digest digest) {
        return true;
      }

      @Override
      public void fetchBlob(Digest digest, Path dest, LongConsumer progress) throws IOException {
        w.write(GZ, dest, progress);
      }

      @Override
      public long pushBlob(
          Digest digest, long size, String mediaType, Path file, LongConsumer progress) {
        throw new UnsupportedOperationException();
      }

      @Override
      public Optional<byte[]> getEntry(String namespace, String key) {
        return Optional.empty();
      }

      @Override
      public void putEntry(String namespace, String key, byte[] json, Optional<BlobRef> blob) {
        throw new UnsupportedOperationException();
      }
    };
  }
}
