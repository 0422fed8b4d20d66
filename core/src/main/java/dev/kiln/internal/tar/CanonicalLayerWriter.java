package dev.kiln.internal.tar;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.Digest;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerInProgress;
import dev.kiln.spi.LayerNotes;
import dev.kiln.spi.LayerWriter;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one {@link LayerWriter}: turns entries, in any order, into a canonical gzip-compressed PAX
 * tar (see {@link TarWriter} for the header form) whose diffID and blob digest depend only on the
 * entries' paths, metadata and content, never on the order of {@code add} calls, the source files'
 * names or times, or thread timing.
 *
 * <p>Canonical form: the last entry added for a path wins; parent directories the layer does not
 * declare are NOT invented: a layer adding {@code tmp/x} or {@code lib/x} leaves the lower layers'
 * {@code /tmp} (mode 1777) and {@code /lib} (a symlink on merged-/usr systems) as they are, and
 * extractors create a parent that exists nowhere as a 0755 root directory, which is what an
 * explicit entry would have said; entries are sorted by {@link PathOrder} (a directory right before
 * its children, whiteouts before their siblings); every entry carries the one fixed mtime;
 * deletions become OCI whiteout files ({@code dir/.wh.NAME}, {@code dir/.wh..wh..opq}: empty, mode
 * 0). Files hard-linked to each other within the layer are stored once, under the first of their
 * paths in that order, and the other paths link to it, so tar readers always meet the content
 * before the links; a hard link whose target is not in the layer is kept as is (it links to a lower
 * layer's file), unless the layer is the {@link #lowest()} of its image.
 *
 * <p>Rejected, with an {@link IllegalArgumentException} naming both paths: an entry under a symlink
 * of the same layer, an entry under a path of the same layer that is not a directory, a name
 * starting with {@code .wh.}, and hard links to directories, to deleted paths or in a cycle.
 *
 * <p>Memory holds metadata only: {@link #add(LayerEntry)} opens content when the layer is written,
 * and {@link #add(LayerEntry, InputStream)} spools content to one append-only temp file in {@code
 * tmpDir} ({@link ContentSpool}). {@link #finish()} puts the entries in canonical form ({@link
 * CanonicalEntries}) and writes them ({@link EntryWriter}); the tar is hashed (diffID) on the
 * calling thread while a {@link ParallelGzipOutputStream} compresses it on the executor, cut into
 * chunks at entry boundaries that depend on the entries alone ({@link ChunkCuts}), so that {@link
 * #reuseChunks} can copy the compressed chunks an earlier version of the layer shares with this
 * one. With {@link #keepTar}, for targets that take layers uncompressed, the calling thread writes
 * the tar to a file of its own instead, hashing it, at the speed of the disk, and a thread of its
 * own compresses the gzip from that file as it grows ({@link GzipFeeder}), with the same cuts at
 * the same places: the whole tar and its diffID are there before the gzip ends, the blob is the
 * same byte for byte, and it is never made of other bytes than the diffID's. While a target reads
 * the tar's preview as it is written, the gzip waits for it ({@link GzipFeeder}). With {@link
 * #takeNotes}, an attestor sees every entry as it is written. Not thread-safe: one thread adds,
 * then finishes.
 */
public final class CanonicalLayerWriter implements LayerWriter {
  private static final Logger log = LoggerFactory.getLogger(CanonicalLayerWriter.class);

  private final Path tmpDir;
  private final long mtime;
  private final int gzipLevel;
  private final Executor compressors;

  /**
   * Entries by path, including whiteouts (a file and a whiteout of one path replace each other).
   */
  // insertion order: callers that add in canonical order (the files provisioner does) make the
  // sorts of CanonicalEntries linear
  private final Map<String, LayerEntry> byPath = new LinkedHashMap<>();

  /** Directories whose lower-layer contents are hidden. */
  private final Set<String> opaqueDirs = new HashSet<>();

  private final ContentSpool spool;
  private Path output;
  private boolean finished;
  private boolean done;
  private ParallelGzipOutputStream.ChunkSource previousChunks;
  private String blobName;
  private Consumer<GrowingBlob> blobWatcher;
  private GrowingBlob growing;
  private GrowingBlob growingTar;
  private long tarSize;
  private ChunkSink chunkSink;
  private boolean lowest;
  private TarSink tarSink;
  private Path tarCopy;
  private LayerNotes notes;
  private NotesSink notesSink;
  private GzipFeeder.Hook feedHook;
  private GzipFeeder.Yield feedYield = GzipFeeder.Yield.DEFAULT;

  /**
   * A writer whose output and spool files go to {@code tmpDir}, stamping every entry with {@code
   * mtimeEpochSeconds} and compressing at {@code gzipLevel} (0-9) on {@code compressors}.
   */
  public CanonicalLayerWriter(
      Path tmpDir, long mtimeEpochSeconds, int gzipLevel, Executor compressors) {
    this.tmpDir = Objects.requireNonNull(tmpDir, "tmpDir");
    checkArgument(
        mtimeEpochSeconds >= 0,
        "layer mtime must not be before the epoch, found %s",
        mtimeEpochSeconds);
    checkArgument(gzipLevel >= 0 && gzipLevel <= 9, "gzip level must be 0-9, found %s", gzipLevel);
    this.mtime = mtimeEpochSeconds;
    this.gzipLevel = gzipLevel;
    this.compressors = Objects.requireNonNull(compressors, "compressors");
    this.spool = new ContentSpool(tmpDir);
  }

  @Override
  public void add(LayerEntry entry) throws IOException {
    checkOpen();
    Objects.requireNonNull(entry, "entry");
    TarNames.checkNotReserved(entry.path());
    if (entry.type() == Type.OPAQUE_WHITEOUT) {
      opaqueDirs.add(entry.path());
    } else {
      byPath.put(entry.path(), entry);
    }
  }

  @Override
  public void add(LayerEntry entry, InputStream content) throws IOException {
    checkOpen();
    Objects.requireNonNull(entry, "entry");
    Objects.requireNonNull(content, "content");
    checkArgument(
        entry.type() == Type.FILE,
        "add(entry, content) takes FILE entries, but '%s' is a %s: use add(entry)",
        entry.path(),
        entry.type());
    TarNames.checkNotReserved(entry.path());
    byPath.put(entry.path(), entry.content(spool.append(entry, content)));
  }

  @Override
  public LayerBlob finish() throws IOException {
    checkOpen();
    finished = true;
    long start = System.nanoTime();
    ParallelGzipOutputStream gz = null;
    OutputStream copy = null;
    GzipFeeder feeder = null;
    try {
      List<LayerEntry> entries = CanonicalEntries.of(byPath, opaqueDirs, lowest);
      output = Files.createTempFile(tmpDir, "kiln-layer-", ".tar.gz");
      OutputStream file = Files.newOutputStream(output);
      if (blobWatcher != null) {
        try {
          growing = new GrowingBlob(blobName, output);
        } catch (IOException | RuntimeException e) {
          file.close();
          throw e;
        }
        file = growing.counting(file);
      }
      gz = new ParallelGzipOutputStream(file, compressors, gzipLevel);
      if (chunkSink != null) {
        gz.reuseChunks(previousChunks);
      }
      if (tarSink != null) {
        tarCopy = Files.createTempFile(tmpDir, "kiln-layer-", ".tar");
        OutputStream tarFile = Files.newOutputStream(tarCopy);
        try {
          // the gzip is fed from the kept tar as it grows, read through a blob of its own: a
          // feeder stopped by an interrupt closes the file channel it reads, never the one the
          // tar preview's readers read
          GrowingBlob feed = new GrowingBlob("kept tar " + tarCopy.getFileName(), tarCopy);
          feeder = new GzipFeeder(feed, gz, feedHook);
          tarFile = feed.counting(tarFile);
          if (growing != null) {
            // the tar's preview, whose size is known before it is written (a target that takes
            // layers uncompressed can start sending it at once)
            tarSize = EntryWriter.tarSize(entries, mtime);
            growingTar = new GrowingBlob(blobName + " (tar)", tarCopy);
            tarFile = growingTar.counting(tarFile);
            feeder.yieldTo(growingTar, feedYield);
            growing.tar(growingTar, tarSize);
          }
        } catch (IOException | RuntimeException e) {
          tarFile.close();
          throw e;
        }
        copy = new BufferedOutputStream(tarFile, 1 << 20);
      }
      if (growing != null) {
        blobWatcher.accept(growing);
      }
      HashingOutputStream tarOut = new HashingOutputStream(copy == null ? gz : copy);
      TarWriter tar = new TarWriter(tarOut, mtime);
      EntryWriter entryWriter = new EntryWriter(tar, tarOut, notes);
      ChunkCuts cuts;
      if (feeder == null) {
        cuts = new ChunkCuts(gz);
      } else {
        cuts = new ChunkCuts(feeder.cuts(tarOut::count));
        feeder.start();
      }
      for (LayerEntry e : entries) {
        cuts.before(e);
        entryWriter.write(e);
        if (feeder != null) {
          feeder.check();
        }
      }
      tar.finish();
      Digest diffId = tarOut.digest();
      long uncompressedSize = tarOut.count();
      if (feeder == null) {
        gz.close();
      } else {
        copy.close();
        feeder.tarWritten(diffId, uncompressedSize);
        if (growingTar != null) {
          // a tar of another size than announced ends in an error, never in an end
          growingTar.complete(new LayerInProgress.Written(diffId, tarSize, diffId, tarSize));
        }
        feeder.finish(diffId, uncompressedSize);
      }
      LayerBlob blob =
          new LayerBlob(
              diffId, gz.digest(), gz.compressedSize(), uncompressedSize, entries.size(), output);
      done = true;
      if (growing != null) {
        growing.complete(
            new LayerInProgress.Written(
                blob.digest(), blob.size(), blob.diffId(), blob.uncompressedSize()));
      }
      if (chunkSink != null) {
        saveChunks(blob, gz);
      }
      if (tarSink != null) {
        tarSink.accept(blob.diffId(), blob.uncompressedSize(), tarCopy);
      }
      if (notesSink != null) {
        notesSink.accept(blob.diffId(), notes);
      }
      log.debug(
          "wrote layer {}: {} entries, {} bytes, {} compressed, in {} ms",
          blob.diffId().shortHex(),
          entries.size(),
          blob.uncompressedSize(),
          blob.size(),
          (System.nanoTime() - start) / 1_000_000);
      return blob;
    } catch (IOException | RuntimeException | Error e) {
      if (growingTar != null) {
        growingTar.fail(e);
      }
      if (growing != null) {
        growing.fail(e);
      }
      if (feeder != null) {
        // before the gzip stream is aborted: the feeder writes to it until it ended
        feeder.stop(e);
      }
      if (gz != null) {
        gz.abort();
      }
      closeQuietly(copy, e);
      deleteQuietly(output, e);
      deleteQuietly(tarCopy, e);
      throw e;
    } finally {
      spool.close();
      closePreviousChunks();
    }
  }

  /** Hands the chunks of {@code blob} to the sink; a failure costs the next version speed only. */
  private void saveChunks(LayerBlob blob, ParallelGzipOutputStream gz) {
    List<ParallelGzipOutputStream.ChunkRecord> chunks = gz.chunks();
    log.debug(
        "layer {}: {} of {} gzip chunks ({} bytes) copied from the layer's previous version",
        blob.diffId().shortHex(),
        gz.reusedChunks(),
        chunks.size(),
        gz.reusedBytes());
    try {
      chunkSink.accept(blob.digest(), chunks, gz.reusedChunks());
    } catch (IOException | RuntimeException e) {
      log.debug(
          "could not save the gzip chunks of layer {}: {}", blob.digest().shortHex(), e.toString());
    }
  }

  /**
   * Lets {@link #finish()} copy the gzip chunks that {@code previous} (an earlier version of this
   * layer; may be null) shares with this one, and hands the chunks of the new blob to {@code sink}.
   * The output is the same either way. The writer closes {@code previous}.
   */
  public CanonicalLayerWriter reuseChunks(
      ParallelGzipOutputStream.ChunkSource previous, ChunkSink sink) {
    checkOpen();
    this.previousChunks = previous;
    this.chunkSink = Objects.requireNonNull(sink, "sink");
    return this;
  }

  /**
   * Also writes the uncompressed tar, exactly the bytes the diffID is the hash of, to a temp file
   * in the writer's temp directory, and hands it to {@code sink} when {@link #finish()} succeeds
   * (the caller deletes it then); a failed or closed writer deletes it. The tar is written at the
   * speed of the disk and the gzip compressed from the file while it grows, on a thread of its own;
   * with {@link #watchBlob}, the blob offers the tar as it is written ({@link GrowingBlob#tar}),
   * which ends as soon as the whole tar is written, before the gzip. {@link #finish()} still
   * returns once the whole blob is written. The blob is the same either way.
   */
  public CanonicalLayerWriter keepTar(TarSink sink) {
    checkOpen();
    this.tarSink = Objects.requireNonNull(sink, "sink");
    return this;
  }

  /**
   * Hands the compressed blob to {@code watcher} as soon as its file is created, readable as it is
   * written ({@link GrowingBlob}); it completes when {@link #finish()} has written the whole blob
   * and fails if it did not. The caller closes the growing blob when it no longer needs it. The
   * blob is the same either way.
   */
  public CanonicalLayerWriter watchBlob(String name, Consumer<GrowingBlob> watcher) {
    checkOpen();
    this.blobName = Objects.requireNonNull(name, "name");
    this.blobWatcher = Objects.requireNonNull(watcher, "watcher");
    return this;
  }

  /** For tests: {@code hook} runs before each read of the kept tar by the gzip's feeder. */
  CanonicalLayerWriter feedHook(GzipFeeder.Hook hook) {
    checkOpen();
    this.feedHook = hook;
    return this;
  }

  /**
   * For tests: how the gzip's feeder gives way to the readers of the tar's preview ({@link
   * GzipFeeder.Yield#DEFAULT} by default).
   */
  CanonicalLayerWriter feedYield(GzipFeeder.Yield yield) {
    checkOpen();
    this.feedYield = yield;
    return this;
  }

  /** Receives the uncompressed tar of a finished layer: its diffID, size and file. */
  public interface TarSink {
    void accept(Digest diffId, long size, Path tar);
  }

  /**
   * Hands each entry, as it is written, and the content it asks for to {@code notes}, and gives the
   * notes to {@code sink} with the layer's diffID when {@link #finish()} succeeds; the notes of a
   * failed write are dropped. The blob is the same either way.
   */
  public CanonicalLayerWriter takeNotes(LayerNotes notes, NotesSink sink) {
    checkOpen();
    this.notes = Objects.requireNonNull(notes, "notes");
    this.notesSink = Objects.requireNonNull(sink, "sink");
    return this;
  }

  /** Receives the notes taken on a finished layer, with its diffID. */
  public interface NotesSink {
    void accept(Digest diffId, LayerNotes notes);
  }

  /**
   * Marks the layer as the lowest of its image (a root file system): nothing is below it, so a hard
   * link to a path the layer does not hold is refused (an extractor could not create it) instead of
   * being kept for a lower layer.
   */
  public CanonicalLayerWriter lowest() {
    checkOpen();
    this.lowest = true;
    return this;
  }

  /**
   * Receives the chunks of a finished layer blob, and how many of them were copied from the
   * previous version.
   */
  public interface ChunkSink {
    void accept(Digest blob, List<ParallelGzipOutputStream.ChunkRecord> chunks, int copied)
        throws IOException;
  }

  private void closePreviousChunks() {
    if (previousChunks instanceof java.io.Closeable c) {
      try {
        c.close();
      } catch (IOException e) {
        log.debug("closing the previous chunks failed: {}", e.toString());
      }
    }
    previousChunks = null;
  }

  /**
   * Discards the output and spool files unless {@link #finish()} returned; the writer cannot be
   * used afterwards.
   */
  @Override
  public void close() throws IOException {
    if (!done) {
      spool.close();
      deleteQuietly(output, null);
      deleteQuietly(tarCopy, null);
    }
    closePreviousChunks();
    finished = true;
    done = true;
  }

  private void checkOpen() {
    if (finished) {
      throw new IllegalStateException("layer writer already finished or closed");
    }
  }

  private static void closeQuietly(OutputStream out, Throwable primary) {
    if (out != null) {
      try {
        out.close();
      } catch (IOException e) {
        primary.addSuppressed(e);
      }
    }
  }

  private static void deleteQuietly(Path file, Throwable primary) {
    if (file == null) {
      return;
    }
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      if (primary != null) {
        primary.addSuppressed(e);
      } else {
        log.warn("could not delete temp file {}", file, e);
      }
    }
  }
}
