package dev.kiln.internal.tar;

import static dev.kiln.internal.tar.TarTestSupport.data;
import static dev.kiln.internal.tar.TarTestSupport.gunzip;
import static dev.kiln.internal.tar.TarTestSupport.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ParallelGzipOutputStreamTest {
  private static final int SMALL_CHUNK = 64 * 1024;

  private static ExecutorService pool1;
  private static ExecutorService pool4;

  @BeforeAll
  static void pools() {
    pool1 = TarTestSupport.pool(1);
    pool4 = TarTestSupport.pool(4);
  }

  @AfterAll
  static void shutdown() {
    pool1.shutdownNow();
    pool4.shutdownNow();
  }

  private static byte[] compress(
      byte[] input, Executor executor, int level, int parallelism, int chunk, int writeSize)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ParallelGzipOutputStream gz =
        new ParallelGzipOutputStream(out, executor, level, parallelism, chunk)) {
      for (int off = 0; off < input.length; off += writeSize) {
        gz.write(input, off, Math.min(writeSize, input.length - off));
      }
    }
    return out.toByteArray();
  }

  @ParameterizedTest
  @ValueSource(
      ints = {
        0,
        1,
        100,
        SMALL_CHUNK - 1,
        SMALL_CHUNK,
        SMALL_CHUNK + 1,
        2 * SMALL_CHUNK,
        7 * SMALL_CHUNK + 12345
      })
  void roundTripsThroughGzipInputStream(int size) throws IOException {
    byte[] input = data(size, size);
    byte[] gz = compress(input, pool4, 6, 2, SMALL_CHUNK, 10_000);
    assertThat(gunzip(gz)).isEqualTo(input);
  }

  @Test
  void roundTripsWithTheDefaultChunkSize() throws IOException {
    byte[] input = data(1, 3 * ParallelGzipOutputStream.CHUNK_SIZE + 777);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ParallelGzipOutputStream gz = new ParallelGzipOutputStream(out, pool4)) {
      gz.write(input);
    }
    assertThat(gunzip(out.toByteArray())).isEqualTo(input);
  }

  @Test
  void writesTheFixedHeaderAndTheTrailer() throws IOException {
    byte[] input = data(2, 200_000);
    byte[] gz = compress(input, pool4, 6, 2, SMALL_CHUNK, 4096);
    // magic, CM=deflate, FLG=0 (no name, no comment), MTIME=0, XFL=0, OS=255
    assertThat(java.util.Arrays.copyOf(gz, 10))
        .containsExactly(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff);
    CRC32 crc = new CRC32();
    crc.update(input);
    int n = gz.length;
    long storedCrc = uint32Le(gz, n - 8);
    long isize = uint32Le(gz, n - 4);
    assertThat(storedCrc).isEqualTo(crc.getValue());
    assertThat(isize).isEqualTo(input.length);
  }

  private static long uint32Le(byte[] b, int off) {
    return (b[off] & 0xffL)
        | (b[off + 1] & 0xffL) << 8
        | (b[off + 2] & 0xffL) << 16
        | (b[off + 3] & 0xffL) << 24;
  }

  @Test
  void outputDependsOnlyOnInputAndLevel() throws IOException {
    byte[] input = data(3, 9 * SMALL_CHUNK + 4321);
    Executor sameThread = Runnable::run;
    byte[] reference = compress(input, sameThread, 6, 1, SMALL_CHUNK, input.length);
    assertThat(compress(input, pool1, 6, 1, SMALL_CHUNK, 1000)).isEqualTo(reference);
    assertThat(compress(input, pool4, 6, 4, SMALL_CHUNK, 65_537)).isEqualTo(reference);
    assertThat(compress(input, pool4, 6, 16, SMALL_CHUNK, 3)).isEqualTo(reference);
    assertThat(compress(input, new ShuffledExecutor(pool4), 6, 3, SMALL_CHUNK, 12_345))
        .isEqualTo(reference);
    assertThat(compress(input, pool4, 1, 4, SMALL_CHUNK, 65_537)).isNotEqualTo(reference);
  }

  @Test
  void identicalBytesWithDifferentPoolSizesAtTheRealChunkSize() throws IOException {
    byte[] input = data(4, 5 * ParallelGzipOutputStream.CHUNK_SIZE + 99);
    ByteArrayOutputStream a = new ByteArrayOutputStream();
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (ParallelGzipOutputStream gz = new ParallelGzipOutputStream(a, pool1, 6, 1)) {
      gz.write(input);
    }
    try (ParallelGzipOutputStream gz = new ParallelGzipOutputStream(b, pool4, 6, 4)) {
      for (int off = 0; off < input.length; off += 7777) {
        gz.write(input, off, Math.min(7777, input.length - off));
      }
    }
    assertThat(b.toByteArray()).isEqualTo(a.toByteArray());
  }

  @Test
  void presetDictionaryKeepsTheRatioOfOneLongStream() throws IOException {
    // Text repeating with a period of a few KiB: without the dictionary every chunk would start
    // from scratch.
    byte[] input = data(5, 40_000);
    byte[] big = new byte[16 * SMALL_CHUNK];
    for (int i = 0; i < big.length; i++) {
      big[i] = input[i % input.length];
    }
    byte[] parallel = compress(big, pool4, 6, 2, SMALL_CHUNK, big.length);
    ByteArrayOutputStream serial = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(serial)) {
      gz.write(big);
    }
    assertThat((double) parallel.length).isLessThan(serial.size() * 1.10 + 16 * 6);
  }

  @Test
  void countsAndHashesWhatItEmits() throws IOException {
    byte[] input = data(6, 3 * SMALL_CHUNK);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ParallelGzipOutputStream gz = new ParallelGzipOutputStream(out, pool4, 6, 2, SMALL_CHUNK);
    gz.write(input);
    assertThatThrownBy(gz::digest).isInstanceOf(IllegalStateException.class);
    gz.close();
    assertThat(gz.compressedSize()).isEqualTo(out.size());
    assertThat(gz.uncompressedSize()).isEqualTo(input.length);
    assertThat(gz.digest().hex()).isEqualTo(sha256(out.toByteArray()));
    gz.close(); // idempotent
  }

  @Test
  void systemGzipAcceptsTheOutput(@TempDir Path tmp) throws Exception {
    assumeTrue(TarTestSupport.onPath("gzip"), "gzip not installed");
    byte[] input = data(7, 5 * SMALL_CHUNK + 17);
    Path file = tmp.resolve("out.gz");
    Files.write(file, compress(input, pool4, 6, 2, SMALL_CHUNK, 5000));
    assertThat(TarTestSupport.run(tmp, "gzip", "-t", file.toString()).exit()).isZero();
    TarTestSupport.run(tmp, "gzip", "-d", "-k", file.toString());
    assertThat(Files.readAllBytes(tmp.resolve("out"))).isEqualTo(input);
    // The empty stream too.
    Path empty = tmp.resolve("empty.gz");
    Files.write(empty, compress(new byte[0], pool4, 6, 2, SMALL_CHUNK, 1));
    assertThat(TarTestSupport.run(tmp, "gzip", "-t", empty.toString()).exit()).isZero();
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 9})
  void everyLevelRoundTrips(int level) throws IOException {
    byte[] input = data(level, 3 * SMALL_CHUNK + 5);
    assertThat(gunzip(compress(input, pool4, level, 2, SMALL_CHUNK, 9999))).isEqualTo(input);
  }

  @Test
  void incompressibleInputGrowsItsBuffersAsNeeded() throws IOException {
    byte[] input = new byte[3 * SMALL_CHUNK];
    new Random(8).nextBytes(input);
    byte[] gz = compress(input, pool4, 9, 2, SMALL_CHUNK, input.length);
    assertThat(gunzip(gz)).isEqualTo(input);
  }

  @Test
  void finishesOnAnExecutorThatNeverRunsAnything() throws IOException {
    // A pool saturated by the caller's own tasks: the writer must compress the chunks itself
    // instead of deadlocking.
    List<Runnable> parked = new ArrayList<>();
    byte[] input = data(9, 6 * SMALL_CHUNK);
    byte[] parkedOut = compress(input, parked::add, 6, 2, SMALL_CHUNK, 10_000);
    byte[] rejectedOut =
        compress(
            input,
            r -> {
              throw new RejectedExecutionException("shut down");
            },
            6,
            2,
            SMALL_CHUNK,
            10_000);
    assertThat(gunzip(parkedOut)).isEqualTo(input);
    assertThat(rejectedOut).isEqualTo(parkedOut);
    parked.forEach(Runnable::run); // stale tasks are harmless no-ops
  }

  @Test
  void keepsAtMostTwoChunksPerThreadInFlight() throws IOException {
    AtomicInteger submitted = new AtomicInteger();
    AtomicInteger emitted = new AtomicInteger();
    AtomicInteger maxInFlight = new AtomicInteger();
    List<Runnable> parked = new ArrayList<>();
    OutputStream counting =
        new OutputStream() {
          @Override
          public void write(int b) {
            throw new UnsupportedOperationException();
          }

          @Override
          public void write(byte[] b, int off, int len) {
            emitted.incrementAndGet(); // the header, then one write per chunk
          }
        };
    Executor recording =
        r -> {
          parked.add(r);
          int inFlight = submitted.incrementAndGet() - Math.max(0, emitted.get() - 1);
          maxInFlight.accumulateAndGet(inFlight, Math::max);
        };
    try (ParallelGzipOutputStream gz =
        new ParallelGzipOutputStream(counting, recording, 6, 3, SMALL_CHUNK)) {
      gz.write(data(10, 40 * SMALL_CHUNK));
    }
    assertThat(submitted.get()).isEqualTo(40);
    // 2 x 3 compressing, plus the one being filled, which finish() submits without waiting for room
    assertThat(maxInFlight.get()).isBetween(2, 7);
  }

  @Test
  void refusesWritesAfterFinishAndBadLevels() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ParallelGzipOutputStream gz = new ParallelGzipOutputStream(out, pool1);
    gz.write(1);
    gz.finish();
    assertThatThrownBy(() -> gz.write(2))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("finished");
    gz.close();
    assertThatThrownBy(() -> new ParallelGzipOutputStream(out, pool1, 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0-9");
  }

  @Test
  void reportsAFailingSinkAndStillCloses() {
    OutputStream broken =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            throw new IOException("disk full");
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            throw new IOException("disk full");
          }
        };
    ParallelGzipOutputStream gz = new ParallelGzipOutputStream(broken, pool4, 6, 2, SMALL_CHUNK);
    assertThatThrownBy(
            () -> {
              try (gz) {
                gz.write(data(11, 20 * SMALL_CHUNK));
              }
            })
        .isInstanceOf(IOException.class)
        .hasMessageContaining("disk full");
    assertThatThrownBy(() -> gz.write(1)).isInstanceOf(IOException.class);
  }

  /** Runs tasks on a pool in a scrambled order, to show that completion order does not matter. */
  private static final class ShuffledExecutor implements Executor {
    private final Executor delegate;
    private final Random random = new Random(42);
    private final List<Runnable> held = new ArrayList<>();

    ShuffledExecutor(Executor delegate) {
      this.delegate = delegate;
    }

    @Override
    public synchronized void execute(Runnable command) {
      held.add(command);
      if (held.size() >= 3) {
        while (!held.isEmpty()) {
          delegate.execute(held.remove(random.nextInt(held.size())));
        }
      }
    }
  }
}
