package dev.kiln.internal.diskcache;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.base.Stopwatch;
import dev.kiln.Digest;
import dev.kiln.disk.DiskCache.CachedDisk;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.keys.StatIndex;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.remote.GuardedRemoteCache;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.internal.tar.ParallelGzipOutputStream;
import dev.kiln.spi.RemoteCache;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The disks in the remote cache: an entry per disk key (the disk's info plus its gzip blob's digest
 * and sizes) and the blob. A disk is pulled checked, and pushed in the background once built.
 * Thread-safe.
 */
final class RemoteDisks {
  private static final Logger log = LoggerFactory.getLogger(RemoteDisks.class);

  /** The remote namespace of disks: disk key hex → the disk's info plus its gzip blob. */
  static final String DISK_NAMESPACE = "disks";

  /** The media type of a gzip-compressed raw disk in the remote cache. */
  static final String DISK_MEDIA_TYPE = "application/vnd.dev.kiln.disk.raw.v1+gzip";

  private final LocalStore store;
  private final StoredDisks disks;
  private final Consumer<BakeEvent> events;
  private final GuardedRemoteCache remote;
  private final Executor compressPool;
  private final List<CompletableFuture<Void>> pushes = new CopyOnWriteArrayList<>();

  /**
   * @param remote the remote cache, or null for none
   */
  RemoteDisks(
      LocalStore store,
      StoredDisks disks,
      Consumer<BakeEvent> events,
      GuardedRemoteCache remote,
      Executor compressPool) {
    this.store = store;
    this.disks = disks;
    this.events = events;
    this.remote = remote;
    this.compressPool = compressPool;
  }

  /** True when disks are looked up in a remote cache. */
  boolean reads() {
    return remote != null && remote.reads();
  }

  /**
   * The disk from the remote cache: its gzip blob, checked against the blob digest while it
   * downloads, decompressed into a sparse file (zero blocks are holes, as the built disk has them),
   * checked against the disk's SHA-256, and committed with its info at {@code path}. Anything wrong
   * is a miss; an outage trips the guard.
   */
  Optional<CachedDisk> fetch(Path path, Digest diskKey) throws IOException {
    Optional<byte[]> raw = remote.getEntry(DISK_NAMESPACE, diskKey.hex());
    if (raw.isEmpty()) {
      return Optional.empty();
    }
    Stopwatch sw = Stopwatch.createStarted();
    ObjectNode info;
    Digest blob;
    Digest sha;
    long blobSize;
    long size;
    try {
      info = (ObjectNode) Json.read(raw.get());
      blob = Digest.parse(info.path("blob").asText());
      sha = Digest.parse(info.path("sha256").asText());
      blobSize = info.path("blobSize").asLong();
      size = info.path("size").asLong();
    } catch (IOException | RuntimeException e) {
      warn(
          "remote cache "
              + remote.describe()
              + " has an unreadable entry for disk "
              + diskKey.shortHex()
              + ": "
              + e);
      return Optional.empty();
    }
    Path gz = store.newTempFile(".disk.gz");
    Path tmp = store.newTempDirectory().resolve("disk.raw");
    try {
      events.accept(
          new BakeEvent.Output(
              "disk",
              "downloading disk "
                  + sha.shortHex()
                  + " ("
                  + (blobSize >> 20)
                  + " MiB compressed) from the remote cache"));
      remote.fetchBlob(
          blob,
          gz,
          done ->
              events.accept(new BakeEvent.BytesWritten("remote cache: pull disk", done, blobSize)));
      if (Files.size(gz) != blobSize || !blob.equals(new Digest(StatIndex.hash(gz)))) {
        warn(
            "remote cache "
                + remote.describe()
                + " served a wrong blob for disk "
                + diskKey.shortHex()
                + "; building it locally");
        return Optional.empty();
      }
      Digest got = SparseGunzip.expand(gz, tmp, size);
      if (!got.equals(sha)) {
        warn(
            "remote cache "
                + remote.describe()
                + ": disk "
                + diskKey.shortHex()
                + " expands to "
                + got
                + ", expected "
                + sha
                + "; building it locally");
        return Optional.empty();
      }
      ObjectNode local = info.deepCopy();
      local.remove(List.of("blob", "blobSize", "size"));
      disks.commit(tmp, path, local);
    } catch (FileNotFoundException e) {
      warn(
          "remote cache "
              + remote.describe()
              + " has an entry for disk "
              + diskKey.shortHex()
              + " but not its blob; building it locally");
      return Optional.empty();
    } catch (IOException e) {
      return Optional.empty(); // the guard reported an outage; a local error builds the disk again
    } finally {
      Files.deleteIfExists(gz);
      Files.deleteIfExists(tmp);
    }
    events.accept(
        new BakeEvent.RemoteCacheHit("disk", "disk", diskKey, blob, blobSize, sw.elapsed()));
    return disks.read(path, diskKey);
  }

  /**
   * Compresses a disk just built and pushes it with its entry, in the background; {@link
   * #awaitPushes} waits.
   */
  void pushLater(Path disk, Digest diskKey, ObjectNode info) {
    if (remote == null || !remote.writes()) {
      return;
    }
    pushes.add(CompletableFuture.runAsync(() -> push(disk, diskKey, info), compressPool));
  }

  private void push(Path disk, Digest diskKey, ObjectNode info) {
    Path gz = store.newTempFile(".disk.gz");
    try {
      Stopwatch sw = Stopwatch.createStarted();
      long size = Files.size(disk);
      Digest blob;
      try (OutputStream out = Files.newOutputStream(gz);
          ParallelGzipOutputStream z = new ParallelGzipOutputStream(out, compressPool, 1)) {
        Files.copy(disk, z);
        z.finish();
        blob = z.digest();
      }
      long blobSize = Files.size(gz);
      long sent =
          remote.pushBlob(
              blob,
              blobSize,
              DISK_MEDIA_TYPE,
              gz,
              done ->
                  events.accept(
                      new BakeEvent.BytesWritten("remote cache: push disk", done, blobSize)));
      ObjectNode entry = info.deepCopy();
      entry.put("blob", blob.toString()).put("blobSize", blobSize).put("size", size);
      remote.putEntry(
          DISK_NAMESPACE,
          diskKey.hex(),
          Json.bytes(entry),
          Optional.of(new RemoteCache.BlobRef(blob, blobSize, DISK_MEDIA_TYPE)));
      events.accept(new BakeEvent.RemoteCachePushed("disk", diskKey, blob, sent, sw.elapsed()));
    } catch (IOException e) {
      log.debug("push of disk {} failed: {}", diskKey, e.toString());
    } finally {
      try {
        Files.deleteIfExists(gz);
      } catch (IOException e) {
        // swept with the session
      }
    }
  }

  /** Waits for the disk pushes started so far (each bounded by the remote's timeouts). */
  void awaitPushes() {
    for (CompletableFuture<Void> f : pushes) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (ExecutionException e) {
        // logged where it failed
      }
    }
    pushes.removeIf(CompletableFuture::isDone);
  }

  private void warn(String message) {
    log.warn(message);
    events.accept(new BakeEvent.Warning(message));
  }
}
