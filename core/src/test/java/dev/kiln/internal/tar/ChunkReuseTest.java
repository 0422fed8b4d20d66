package dev.kiln.internal.tar;

import static dev.kiln.internal.tar.TarTestSupport.data;
import static dev.kiln.internal.tar.TarTestSupport.gunzip;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.internal.tar.ParallelGzipOutputStream.ChunkRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Incremental rewrites: a stream given the chunks of an earlier output copies the ones it shares,
 * and its output is byte for byte what compressing from scratch gives, whatever the earlier output
 * was (related, unrelated, damaged).
 */
class ChunkReuseTest {
  private static final int CHUNK = 64 * 1024;
  private static ExecutorService pool;

  @TempDir Path tmp;

  @BeforeAll
  static void start() {
    pool = TarTestSupport.pool(3);
  }

  @AfterAll
  static void stop() {
    pool.shutdownNow();
  }

  /** Pieces of input with a cut before each, as the layer writer cuts before some entries. */
  private static List<byte[]> pieces(int seed, int count) {
    Random r = new Random(seed);
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int size = r.nextInt(10) == 0 ? CHUNK * 2 + r.nextInt(CHUNK) : 100 + r.nextInt(20_000);
      out.add(data(seed * 1000 + i, size));
    }
    return out;
  }

  private record Output(byte[] gzip, List<ChunkRecord> chunks, int reused) {}

  private Output compress(List<byte[]> pieces, ParallelGzipOutputStream.ChunkSource previous)
      throws IOException {
    ByteArrayOutputStream bo = new ByteArrayOutputStream();
    ParallelGzipOutputStream gz = new ParallelGzipOutputStream(bo, pool, 6, 2, CHUNK);
    gz.reuseChunks(previous);
    for (byte[] p : pieces) {
      gz.cut();
      gz.write(p);
    }
    gz.close();
    return new Output(bo.toByteArray(), gz.chunks(), gz.reusedChunks());
  }

  private static byte[] plain(List<byte[]> pieces) throws IOException {
    ByteArrayOutputStream bo = new ByteArrayOutputStream();
    for (byte[] p : pieces) {
      bo.write(p);
    }
    return bo.toByteArray();
  }

  /** The earlier output as the store keeps it: its blob and its chunk index, both files. */
  private ChunkIndex index(Output earlier, String name) throws IOException {
    Path blob = tmp.resolve(name + ".gz");
    Path idx = tmp.resolve(name + ".idx");
    Files.write(blob, earlier.gzip());
    Files.write(idx, ChunkIndex.encode(earlier.chunks()));
    ChunkIndex index = ChunkIndex.open(idx, blob);
    assertThat(index).isNotNull();
    return index;
  }

  @Test
  void cutsAndTheDictionaryAcrossShortChunksRoundTrip() throws IOException {
    List<byte[]> pieces = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      pieces.add(data(i, 1 + i * 37 % 5000)); // many chunks shorter than the 32 KiB dictionary
    }
    Output o = compress(pieces, null);
    assertThat(gunzip(o.gzip())).isEqualTo(plain(pieces));
    assertThat(o.chunks()).hasSizeGreaterThan(150);
    long covered = 10;
    for (ChunkRecord c : o.chunks()) {
      assertThat(c.offset()).as("chunks are contiguous after the gzip header").isEqualTo(covered);
      covered += c.length();
    }
    assertThat(covered).isEqualTo(o.gzip().length - 8);
  }

  @Test
  void aChangeInOnePieceDeflatesOnlyTheChunksAroundIt() throws IOException {
    List<byte[]> before = pieces(1, 120);
    Output first = compress(before, null);

    List<byte[]> sameSize = new ArrayList<>(before);
    byte[] edited = before.get(60).clone();
    edited[edited.length / 2] ^= 0x55;
    sameSize.set(60, edited);
    List<byte[]> grown = new ArrayList<>(before);
    grown.set(30, data(99, before.get(30).length + 1234));
    List<byte[]> inserted = new ArrayList<>(before);
    inserted.add(90, data(98, 7777));
    List<byte[]> removed = new ArrayList<>(before);
    removed.remove(10);

    for (List<byte[]> after : List.of(sameSize, grown, inserted, removed)) {
      Output scratch = compress(after, null);
      Output incremental;
      try (ChunkIndex idx = index(first, "first")) {
        incremental = compress(after, idx);
      }
      assertThat(incremental.gzip())
          .as("the same bytes as compressing from scratch")
          .isEqualTo(scratch.gzip());
      assertThat(gunzip(incremental.gzip())).isEqualTo(plain(after));
      int chunks = incremental.chunks().size();
      assertThat(incremental.reused()).as("chunks copied").isBetween(chunks - 8, chunks - 1);
    }
  }

  @Test
  void aDamagedEarlierBlobIsNeverCopied() throws IOException {
    List<byte[]> before = pieces(2, 60);
    Output first = compress(before, null);
    byte[] damaged = first.gzip().clone();
    ChunkRecord victim = first.chunks().get(first.chunks().size() / 2);
    damaged[(int) victim.offset() + victim.length() / 2] ^= 1;
    Output bad = new Output(damaged, first.chunks(), 0);

    List<byte[]> after = new ArrayList<>(before);
    after.set(3, data(77, 500));
    Output scratch = compress(after, null);
    Output incremental;
    try (ChunkIndex idx = index(bad, "damaged")) {
      incremental = compress(after, idx);
    }
    assertThat(incremental.gzip()).isEqualTo(scratch.gzip());
    assertThat(incremental.reused()).isPositive().isLessThan(first.chunks().size() - 1);
  }

  @Test
  void anUnrelatedOrTruncatedEarlierOutputChangesNothing() throws IOException {
    List<byte[]> a = pieces(3, 40);
    List<byte[]> b = pieces(4, 40);
    Output scratch = compress(b, null);
    Output first = compress(a, null);
    try (ChunkIndex idx = index(first, "unrelated")) {
      Output o = compress(b, idx);
      assertThat(o.gzip()).isEqualTo(scratch.gzip());
      assertThat(o.reused()).isZero();
    }
    // an index promising more than its blob holds
    Output self = compress(b, null);
    byte[] cut = java.util.Arrays.copyOf(self.gzip(), self.gzip().length / 2);
    try (ChunkIndex idx = index(new Output(cut, self.chunks(), 0), "truncated")) {
      Output o = compress(b, idx);
      assertThat(o.gzip()).isEqualTo(scratch.gzip());
      assertThat(o.reused()).isPositive().isLessThan(self.chunks().size());
    }
    // a malformed index is no index
    Path junk = tmp.resolve("junk.idx");
    Files.writeString(junk, "KILNCHK1 but not really");
    assertThat(ChunkIndex.open(junk, tmp.resolve("truncated.gz"))).isNull();
    assertThat(ChunkIndex.open(tmp.resolve("missing.idx"), tmp.resolve("truncated.gz"))).isNull();
  }

  /** A layer of many small files and a few large ones, as a tree of an application or a JDK is. */
  private static java.util.Map<String, byte[]> files(int seed) {
    java.util.Map<String, byte[]> m = new java.util.TreeMap<>();
    for (int i = 0; i < 600; i++) {
      int size = i % 97 == 0 ? 700_000 + i : 500 + (i * 7919) % 12_000;
      m.put("d" + i % 13 + "/f" + i, data(seed + i, size));
    }
    return m;
  }

  private record Layer(dev.kiln.spi.LayerBlob blob, List<ChunkRecord> chunks, int copied) {}

  private Layer write(
      java.util.Map<String, byte[]> files, ParallelGzipOutputStream.ChunkSource previous)
      throws IOException {
    CanonicalLayerWriter w = new CanonicalLayerWriter(tmp, 1, 6, pool);
    Object[] got = new Object[2];
    w.reuseChunks(
        previous,
        (blob, chunks, copied) -> {
          got[0] = chunks;
          got[1] = copied;
        });
    for (var e : files.entrySet()) {
      w.add(dev.kiln.spi.LayerEntry.file(e.getKey(), 0644, e.getValue()));
    }
    dev.kiln.spi.LayerBlob blob = w.finish();
    @SuppressWarnings("unchecked")
    List<ChunkRecord> chunks = (List<ChunkRecord>) got[0];
    return new Layer(blob, chunks, (Integer) got[1]);
  }

  @Test
  void theLayerWritersCutsFollowItsEntries() throws IOException {
    java.util.Map<String, byte[]> before = files(1);
    Layer first = write(before, null);
    assertThat(first.chunks()).hasSizeGreaterThan(10);
    Path blob = Files.copy(first.blob().file(), tmp.resolve("first.tar.gz"));
    Path idx = Files.write(tmp.resolve("first.idx"), ChunkIndex.encode(first.chunks()));

    java.util.Map<String, byte[]> grown = new java.util.TreeMap<>(before);
    grown.put("d5/f200", data(5, 20_000)); // a small file, longer
    java.util.Map<String, byte[]> fewer = new java.util.TreeMap<>(before);
    fewer.remove("d0/f0"); // a large file gone
    java.util.Map<String, byte[]> more = new java.util.TreeMap<>(before);
    more.put("d7/new", data(6, 3_000));
    for (java.util.Map<String, byte[]> after : List.of(grown, fewer, more)) {
      Layer scratch = write(after, null);
      Layer incremental = write(after, ChunkIndex.open(idx, blob));
      assertThat(incremental.blob().digest()).isEqualTo(scratch.blob().digest());
      assertThat(incremental.blob().diffId()).isEqualTo(scratch.blob().diffId());
      int n = incremental.chunks().size();
      assertThat(incremental.copied()).as("chunks copied of %s", n).isBetween(n - 4, n - 1);
      assertThat(scratch.copied()).isZero();
    }
  }

  @Test
  void withoutCutsTheOutputIsWhatItWasBeforeChunkReuse() throws IOException {
    // recording chunks changes nothing in the bytes: full 1 MiB-style chunks, primed by the
    // previous chunk's tail
    byte[] input = data(5, 5 * CHUNK + 999);
    ByteArrayOutputStream plainOut = new ByteArrayOutputStream();
    try (ParallelGzipOutputStream gz = new ParallelGzipOutputStream(plainOut, pool, 6, 2, CHUNK)) {
      gz.write(input);
    }
    Output keyed = compress(List.of(input), null);
    assertThat(keyed.gzip()).isEqualTo(plainOut.toByteArray());
    assertThat(keyed.chunks()).hasSize(6);
  }
}
