package dev.kiln.internal.tar;

import static dev.kiln.internal.tar.TarTestSupport.data;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.internal.tar.ParallelGzipOutputStream.ChunkRecord;
import dev.kiln.internal.tar.TarTestSupport.CompressorPool;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A writer that keeps the tar writes it at full speed and compresses the gzip from the kept file:
 * the blob is the same byte for byte as the one a writer compressing its tar directly makes, chunk
 * cuts and copied chunks included, and the tar's preview ends before the gzip does.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class KeptTarFeedTest {
  @RegisterExtension static final CompressorPool compressors = new CompressorPool(2);
  @TempDir Path tmp;

  /** A blob, its bytes, its kept tar's bytes (null when not kept) and its gzip chunks. */
  private record Written(
      LayerBlob blob, byte[] bytes, byte[] tar, List<String> chunks, int copied) {}

  /** A writer of {@code entries}, keeping the tar or not, recording chunks when {@code record}. */
  private Written write(
      List<LayerEntry> entries,
      boolean keep,
      Executor pool,
      boolean record,
      ParallelGzipOutputStream.ChunkSource previous)
      throws IOException {
    Path dir = Files.createTempDirectory(tmp, keep ? "kept-" : "direct-");
    Path[] kept = new Path[1];
    List<String> chunks = new ArrayList<>();
    int[] copied = new int[1];
    LayerBlob blob;
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(dir, 1, 6, pool)) {
      if (keep) {
        w.keepTar((diffId, size, file) -> kept[0] = file);
      }
      if (record) {
        w.reuseChunks(
            previous,
            (b, list, n) -> {
              for (ChunkRecord c : list) {
                chunks.add(
                    HexFormat.of().formatHex(c.key())
                        + " "
                        + c.offset()
                        + " "
                        + c.length()
                        + " "
                        + HexFormat.of().formatHex(c.sha256()));
              }
              copied[0] = n;
            });
      }
      for (LayerEntry e : entries) {
        w.add(e);
      }
      blob = w.finish();
    }
    byte[] tar = null;
    if (keep) {
      tar = Files.readAllBytes(kept[0]);
      assertThat(Digest.of(tar)).as("the kept tar is the diffID's").isEqualTo(blob.diffId());
    }
    return new Written(blob, Files.readAllBytes(blob.file()), tar, chunks, copied[0]);
  }

  private Written write(List<LayerEntry> entries, boolean keep) throws IOException {
    return write(entries, keep, compressors.executor(), true, null);
  }

  /** Both writers give the same blob, chunk for chunk. */
  private void assertSameBlob(Written kept, Written direct) {
    assertThat(kept.blob().diffId()).isEqualTo(direct.blob().diffId());
    assertThat(kept.blob().digest()).isEqualTo(direct.blob().digest());
    assertThat(kept.blob().size()).isEqualTo(direct.blob().size());
    assertThat(kept.blob().uncompressedSize()).isEqualTo(direct.blob().uncompressedSize());
    assertThat(kept.blob().entries()).isEqualTo(direct.blob().entries());
    assertThat(kept.bytes()).isEqualTo(direct.bytes());
    assertThat(kept.chunks()).isEqualTo(direct.chunks());
    assertThat(kept.copied()).isEqualTo(direct.copied());
  }

  /**
   * Thousands of small files in directories, with symlinks: the chunks end where a small entry cuts
   * them once they hold 512 KiB or more.
   */
  private static List<LayerEntry> smallFiles(int seed) {
    List<LayerEntry> out = new ArrayList<>();
    for (int d = 0; d < 40; d++) {
      out.add(LayerEntry.directory("usr/share/d" + d, 0755));
    }
    for (int i = 0; i < 4000; i++) {
      String dir = "usr/share/d" + i % 40;
      out.add(
          LayerEntry.file(dir + "/f" + i, 0644, data(seed * 10_000L + i, 100 + i * 7919 % 3000)));
      if (i % 100 == 0) {
        out.add(LayerEntry.symlink(dir + "/l" + i, "f" + i));
      }
    }
    return out;
  }

  /**
   * Files of 512 KiB and more, each in chunks of its own, between small ones: a file of exactly 512
   * KiB, files over the 1 MiB chunk size, and small files right after large ones.
   */
  private static List<LayerEntry> largeFiles(int seed) {
    List<LayerEntry> out = new ArrayList<>();
    int[] sizes = {
      (int) ChunkCuts.LARGE_FILE,
      (int) ChunkCuts.LARGE_FILE - 1,
      700_001,
      ParallelGzipOutputStream.CHUNK_SIZE,
      3 * ParallelGzipOutputStream.CHUNK_SIZE + 12_345,
      1_000,
      600_000
    };
    for (int i = 0; i < sizes.length; i++) {
      out.add(LayerEntry.file("opt/big" + i, 0755, data(seed * 100L + i, sizes[i])));
      out.add(LayerEntry.file("opt/big" + i + ".txt", 0644, data(seed * 100L + 50 + i, 300 + i)));
    }
    out.add(LayerEntry.directory("opt", 0755));
    return out;
  }

  @Test
  void theBlobIsTheSameAsCompressingTheTarDirectly() throws IOException {
    List<LayerEntry> small = smallFiles(1);
    Written kept = write(small, true);
    Written direct = write(small, false);
    assertSameBlob(kept, direct);
    assertThat(direct.chunks()).as("chunks cut between small entries").hasSizeGreaterThan(8);

    List<LayerEntry> large = largeFiles(2);
    kept = write(large, true);
    direct = write(large, false);
    assertSameBlob(kept, direct);
    assertThat(direct.chunks()).hasSizeGreaterThan(12);

    List<LayerEntry> mixed = new ArrayList<>(smallFiles(3));
    mixed.addAll(largeFiles(4));
    assertSameBlob(write(mixed, true), write(mixed, false));

    // and without chunk records, as a writer that reuses no chunks writes
    Written plainKept = write(mixed, true, compressors.executor(), false, null);
    Written plainDirect = write(mixed, false, compressors.executor(), false, null);
    assertSameBlob(plainKept, plainDirect);
  }

  @Test
  void anEmptyLayerIsTheSameToo() throws IOException {
    Written kept = write(List.of(), true);
    Written direct = write(List.of(), false);
    assertSameBlob(kept, direct);
    assertThat(kept.tar()).hasSize(1024);
  }

  @Test
  void aRewriteCopiesTheSameChunksFromThePreviousVersion() throws IOException {
    List<LayerEntry> before = new ArrayList<>(smallFiles(5));
    before.addAll(largeFiles(6));
    Written first = write(before, false);
    Path blob = Files.write(tmp.resolve("first.tar.gz"), first.bytes());
    Path idx = tmp.resolve("first.idx");
    List<ChunkRecord> records = new ArrayList<>();
    for (String c : first.chunks()) {
      String[] f = c.split(" ");
      records.add(
          new ChunkRecord(
              HexFormat.of().parseHex(f[0]),
              Long.parseLong(f[1]),
              Integer.parseInt(f[2]),
              HexFormat.of().parseHex(f[3])));
    }
    Files.write(idx, ChunkIndex.encode(records));

    List<LayerEntry> after = new ArrayList<>(before);
    String changed = "usr/share/d0/f1960";
    after.replaceAll(
        e -> e.path().equals(changed) ? LayerEntry.file(changed, 0644, data(77, 5_000)) : e);
    Written kept = write(after, true, compressors.executor(), true, ChunkIndex.open(idx, blob));
    Written direct = write(after, false, compressors.executor(), true, ChunkIndex.open(idx, blob));
    assertSameBlob(kept, direct);
    int n = kept.chunks().size();
    assertThat(kept.copied()).as("chunks copied of %s", n).isBetween(n - 4, n - 1);
    Written scratch = write(after, false);
    assertThat(kept.bytes()).isEqualTo(scratch.bytes());
  }

  @Test
  void aPoolThatNeverRunsATaskStopsNeitherWriter() throws IOException {
    List<LayerEntry> layer = largeFiles(7);
    Executor never = task -> {}; // every thread of the caller's pool busy for good
    Written kept = write(layer, true, never, true, null);
    assertSameBlob(kept, write(layer, false));
  }

  /**
   * A writer that keeps the tar and previews its blob, whose gzip feeder runs a hook before each
   * read; the tar's preview is read to its end on a thread of its own.
   */
  private final class Watched {
    final Path dir;
    final AtomicReference<GrowingBlob> blob = new AtomicReference<>();
    final CompletableFuture<byte[]> tar = new CompletableFuture<>();
    volatile Thread feeder;

    Watched(String name) throws IOException {
      dir = Files.createDirectories(tmp.resolve(name));
    }

    LayerBlob write(List<LayerEntry> entries, GzipFeeder.Hook hook) throws IOException {
      try (CanonicalLayerWriter w = new CanonicalLayerWriter(dir, 1, 6, compressors.executor())) {
        w.keepTar((diffId, size, file) -> {});
        w.watchBlob(
            "layer",
            b -> {
              blob.set(b);
              Thread reader =
                  new Thread(
                      () -> {
                        try (InputStream in = b.tar().orElseThrow().open()) {
                          tar.complete(in.readAllBytes());
                        } catch (IOException | RuntimeException e) {
                          tar.completeExceptionally(e);
                        }
                      },
                      "test-tar-reader");
              reader.setDaemon(true);
              reader.start();
            });
        w.feedHook(
            position -> {
              feeder = Thread.currentThread();
              hook.beforeRead(position);
            });
        for (LayerEntry e : entries) {
          w.add(e);
        }
        return w.finish();
      }
    }

    /** On the feeder's thread: waits until the tar's preview has been read to its end. */
    void awaitTar() throws IOException {
      try {
        tar.get(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted");
      } catch (ExecutionException | TimeoutException e) {
        throw new IOException("the tar's preview did not end while the gzip waited: " + e, e);
      }
    }

    /** The kept tar, while the writer writes it. */
    Path keptTar() throws IOException {
      try (Stream<Path> files = Files.list(dir)) {
        return files.filter(f -> f.toString().endsWith(".tar")).findFirst().orElseThrow();
      }
    }

    /** The failed write left no thread and no file behind, and the blob's preview failed. */
    void assertFailedAndCleanedUp() throws Exception {
      assertThat(feeder).as("the feeder ran").isNotNull();
      assertThat(feeder.isAlive()).as("the feeder ended").isFalse();
      try (Stream<Path> files = Files.list(dir)) {
        assertThat(files).as("temp files").isEmpty();
      }
      assertThatThrownBy(() -> blob.get().written().toCompletableFuture().get(20, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class);
      assertThatThrownBy(() -> blob.get().openBlob().readAllBytes())
          .isInstanceOf(IOException.class);
      blob.get().close();
    }
  }

  @Test
  void theTarPreviewEndsBeforeTheGzipStarts() throws Exception {
    List<LayerEntry> layer = largeFiles(8);
    Watched w = new Watched("preview");
    AtomicBoolean blobWrittenFirst = new AtomicBoolean();
    // the gzip's feeder reads nothing before the whole tar is there
    LayerBlob blob =
        w.write(
            layer,
            position -> {
              if (position == 0) {
                w.awaitTar();
                blobWrittenFirst.set(w.blob.get().written().toCompletableFuture().isDone());
              }
            });
    assertThat(blobWrittenFirst).isFalse();
    byte[] tar = w.tar.get();
    assertThat(Digest.of(tar)).isEqualTo(blob.diffId());
    assertThat((long) tar.length).isEqualTo(blob.uncompressedSize());
    assertThat(Digest.of(Files.readAllBytes(blob.file()))).isEqualTo(blob.digest());
    assertThat(w.blob.get().written().toCompletableFuture().get().digest())
        .isEqualTo(blob.digest());
    assertThat(blob.digest()).isEqualTo(write(layer, false).blob().digest());
    w.blob.get().close();
  }

  /**
   * Writes {@code entries} keeping the tar, with the gzip's feeder giving way to the tar's readers
   * as {@code yield} says; {@code onPreview} gets the tar preview's stream, opened before the
   * writer writes a byte, and {@code hook} runs before each read of the feeder.
   */
  private LayerBlob writeWithPreviewReader(
      List<LayerEntry> entries,
      GzipFeeder.Yield yield,
      Consumer<InputStream> onPreview,
      GzipFeeder.Hook hook)
      throws IOException {
    Path dir = Files.createTempDirectory(tmp, "yield-");
    AtomicReference<GrowingBlob> growing = new AtomicReference<>();
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(dir, 1, 6, compressors.executor())) {
      w.keepTar((diffId, size, file) -> {});
      w.feedYield(yield);
      w.feedHook(hook);
      w.watchBlob(
          "layer",
          b -> {
            growing.set(b);
            try {
              onPreview.accept(b.tar().orElseThrow().open());
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          });
      for (LayerEntry e : entries) {
        w.add(e);
      }
      return w.finish();
    } finally {
      if (growing.get() != null) {
        growing.get().close();
      }
    }
  }

  /** Gives way to a reader until it got nothing for {@code stallNanos}, however slow it is. */
  private static GzipFeeder.Yield stall(long stallNanos) {
    return new GzipFeeder.Yield(stallNanos, 0, 0);
  }

  /**
   * Reads {@code in} to its end on a thread of its own, 64 KiB at a time with {@code pauseMillis}
   * between, counting into {@code read}.
   */
  private static Thread slowReader(InputStream in, AtomicLong read, long pauseMillis) {
    Thread t =
        new Thread(
            () -> {
              try (in) {
                byte[] buf = new byte[64 << 10];
                int n;
                while ((n = in.read(buf)) > 0) {
                  read.addAndGet(n);
                  Thread.sleep(pauseMillis);
                }
              } catch (IOException | InterruptedException e) {
                read.set(-1);
              }
            },
            "test-preview-reader");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /**
   * A layer written while {@link #slowReader} reads its tar's preview: the blob, how much the
   * reader had read when the feeder first read, the reader's thread and what it read.
   */
  private record SlowRead(LayerBlob blob, long readAtFirstFeed, Thread reader, AtomicLong read) {}

  private SlowRead slowRead(List<LayerEntry> layer, GzipFeeder.Yield yield, long pauseMillis)
      throws IOException {
    AtomicLong read = new AtomicLong();
    AtomicLong readAtFirstFeed = new AtomicLong(-2);
    Thread[] reader = new Thread[1];
    LayerBlob blob =
        writeWithPreviewReader(
            layer,
            yield,
            in -> reader[0] = slowReader(in, read, pauseMillis),
            position -> {
              if (position == 0) {
                readAtFirstFeed.set(read.get());
              }
            });
    return new SlowRead(blob, readAtFirstFeed.get(), reader[0], read);
  }

  @Test
  void theGzipWaitsWhileATargetReadsTheTarAsItIsWritten() throws Exception {
    List<LayerEntry> layer = largeFiles(11);
    SlowRead r = slowRead(layer, stall(TimeUnit.MINUTES.toNanos(10)), 2);
    r.reader().join(20_000);
    // the reader read the whole tar before the feeder read its first byte
    assertThat(r.read().get()).isEqualTo(r.blob().uncompressedSize());
    assertThat(r.readAtFirstFeed()).isEqualTo(r.blob().uncompressedSize());
    assertThat(r.blob().digest()).isEqualTo(write(layer, false).blob().digest());
  }

  @Test
  void aTargetThatStopsReadingHoldsTheGzipOnlyForAWhile() throws Exception {
    List<LayerEntry> layer = largeFiles(12);
    InputStream[] open = new InputStream[1];
    CompletableFuture<Integer> got = new CompletableFuture<>();
    // the reader takes 64 KiB and then nothing, its stream left open: without a limit on how
    // long the feeder gives way, the layer would never be written
    LayerBlob blob =
        writeWithPreviewReader(
            layer,
            stall(TimeUnit.MILLISECONDS.toNanos(200)),
            in -> {
              open[0] = in;
              Thread t =
                  new Thread(
                      () -> {
                        try {
                          got.complete(in.readNBytes(64 << 10).length);
                        } catch (IOException e) {
                          got.completeExceptionally(e);
                        }
                      },
                      "test-preview-staller");
              t.setDaemon(true);
              t.start();
            },
            position -> {});
    assertThat(got.get(20, TimeUnit.SECONDS)).isEqualTo(64 << 10);
    open[0].close();
    assertThat(blob.digest()).isEqualTo(write(layer, false).blob().digest());
  }

  @Test
  void aSlowTargetDoesNotHoldTheGzip() throws Exception {
    List<LayerEntry> layer = largeFiles(14);
    // about 1 MiB/s, where giving way needs 1 GiB/s after 50 ms; the reader would take seconds
    SlowRead r =
        slowRead(
            layer, new GzipFeeder.Yield(TimeUnit.MINUTES.toNanos(10), 1L << 30, 50_000_000L), 50);
    // the feeder went on long before the reader was half-way (which the writer's end then failed)
    assertThat(r.readAtFirstFeed()).isBetween(0L, r.blob().uncompressedSize() / 2);
    assertThat(r.blob().digest()).isEqualTo(write(layer, false).blob().digest());
  }

  @Test
  void aTargetThatClosesThePreviewReleasesTheGzip() throws Exception {
    List<LayerEntry> layer = largeFiles(13);
    AtomicBoolean closedAtFirstFeed = new AtomicBoolean();
    AtomicBoolean closed = new AtomicBoolean();
    // a stall limit longer than the test's timeout: only the close lets the feeder go on
    LayerBlob blob =
        writeWithPreviewReader(
            layer,
            stall(TimeUnit.MINUTES.toNanos(10)),
            in -> {
              Thread t =
                  new Thread(
                      () -> {
                        try {
                          in.readNBytes(256 << 10);
                        } catch (IOException e) {
                          // the close below is what the test is about
                        }
                        closed.set(true);
                        try {
                          in.close();
                        } catch (IOException e) {
                          throw new java.io.UncheckedIOException(e);
                        }
                      },
                      "test-preview-closer");
              t.setDaemon(true);
              t.start();
            },
            position -> {
              if (position == 0) {
                closedAtFirstFeed.set(closed.get());
              }
            });
    assertThat(closedAtFirstFeed).isTrue();
    assertThat(blob.digest()).isEqualTo(write(layer, false).blob().digest());
  }

  /**
   * Once the tar is written, and the feeder has read part of it, {@code change} changes the kept
   * tar at the feeder's position: the layer fails, though its tar's preview was complete and right.
   */
  private void assertAChangedTarFailsTheLayer(String name, Change change, String message)
      throws Exception {
    List<LayerEntry> layer = new ArrayList<>(largeFiles(9));
    layer.addAll(smallFiles(10));
    Watched w = new Watched(name);
    AtomicBoolean changed = new AtomicBoolean();
    assertThatThrownBy(
            () ->
                w.write(
                    layer,
                    position -> {
                      if (position > 0 && !changed.getAndSet(true)) {
                        w.awaitTar();
                        change.apply(w.keptTar(), position);
                      }
                    }))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(message);
    assertThat(changed).isTrue();
    assertThat(Digest.of(w.tar.get())).isEqualTo(write(layer, false).blob().diffId());
    w.assertFailedAndCleanedUp();
  }

  private interface Change {
    void apply(Path tar, long position) throws IOException;
  }

  @Test
  void aByteOfTheTarFlippedOnDiskFailsTheLayer() throws Exception {
    assertAChangedTarFailsTheLayer(
        "flipped",
        (tar, position) -> {
          try (FileChannel ch =
              FileChannel.open(tar, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, position + 100);
            b.put(0, (byte) (b.get(0) ^ 1)).rewind();
            ch.write(b, position + 100);
          }
        },
        "changed on disk");
  }

  @Test
  void aTarCutShortOnDiskFailsTheLayer() throws Exception {
    assertAChangedTarFailsTheLayer(
        "cut",
        (tar, position) -> {
          try (FileChannel ch = FileChannel.open(tar, StandardOpenOption.WRITE)) {
            ch.truncate(position + 100);
          }
        },
        "file ended at");
  }

  @Test
  void aWriterThatFailsHalfWayStopsTheFeeder() throws Exception {
    Watched w = new Watched("writer-fails");
    long[] fed = {-1}; // where the feeder reads next, guarded by itself
    byte[] good = data(11, 3 << 20);
    // fails once the feeder has fed all the tar there is in the file and waits for more
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
                  awaitFed(fed, Files.size(w.keptTar()));
                  throw new IOException("disk gone");
                }
                int n = Math.min(len, good.length - pos);
                System.arraycopy(good, pos, b, off, n);
                pos += n;
                return n;
              }
            };
    List<LayerEntry> layer = new ArrayList<>(largeFiles(12));
    layer.add(LayerEntry.file("zzz/failing.bin", 0644, 8 << 20, failing));
    assertThatThrownBy(
            () ->
                w.write(
                    layer,
                    position -> {
                      synchronized (fed) {
                        fed[0] = position;
                        fed.notifyAll();
                      }
                    }))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("disk gone");
    assertThatThrownBy(() -> w.tar.get(20, TimeUnit.SECONDS))
        .as("the tar's preview failed too")
        .isInstanceOf(ExecutionException.class);
    w.assertFailedAndCleanedUp();
  }

  /** Waits until the feeder is about to read the tar from {@code size} on. */
  private static void awaitFed(long[] fed, long size) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    synchronized (fed) {
      while (fed[0] != size) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IOException("the feeder did not reach " + size + ", only " + fed[0]);
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(fed, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted");
        }
      }
    }
  }

  @Test
  void aFeederThatFailsAfterTheTarFailsTheBlobOnly() throws Exception {
    List<LayerEntry> layer = largeFiles(13);
    Watched w = new Watched("feeder-fails");
    assertThatThrownBy(
            () ->
                w.write(
                    layer,
                    position -> {
                      if (position > 0) {
                        w.awaitTar();
                        throw new IOException("no space left on device");
                      }
                    }))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no space left on device");
    assertThat(Digest.of(w.tar.get()))
        .as("the tar's preview ended, right")
        .isEqualTo(write(layer, false).blob().diffId());
    w.assertFailedAndCleanedUp();
  }

  @Test
  void aFeederThatFailsAtOnceFailsTheLayer() throws Exception {
    List<LayerEntry> layer = new ArrayList<>(largeFiles(14));
    layer.addAll(smallFiles(15));
    Watched w = new Watched("feeder-fails-early");
    assertThatThrownBy(
            () ->
                w.write(
                    layer,
                    position -> {
                      throw new IOException("no space left on device");
                    }))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no space left on device");
    w.assertFailedAndCleanedUp();
  }

  @Test
  void anInterruptWhileTheGzipIsWrittenStopsTheFeeder() throws Exception {
    List<LayerEntry> layer = new ArrayList<>(largeFiles(16));
    layer.addAll(smallFiles(17));
    Watched w = new Watched("interrupted");
    Thread writer = Thread.currentThread();
    AtomicBoolean interrupted = new AtomicBoolean();
    try {
      assertThatThrownBy(
              () ->
                  w.write(
                      layer,
                      position -> {
                        if (position > 0 && !interrupted.getAndSet(true)) {
                          w.awaitTar(); // the writer waits for the feeder from now on
                          writer.interrupt();
                        }
                      }))
          .isInstanceOf(InterruptedIOException.class);
      assertThat(Thread.currentThread().isInterrupted()).as("the interrupt is kept").isTrue();
    } finally {
      Thread.interrupted();
    }
    w.assertFailedAndCleanedUp();
  }
}
