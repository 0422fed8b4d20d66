package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.RetentionReport;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.OutputChecks;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded default store: one directory that is at the same time a valid OCI image layout
 * ({@code oci-layout}, {@code index.json}, {@code blobs/sha256/…}) and Kiln's cache ({@code keys/}
 * cache key → layer, {@code stat/} file index, {@code records/} image records, {@code tmp/}, {@code
 * locks/}). Only this class and the package-private classes it hands each directory to know its
 * paths: {@link StoreBlobs}, {@link StoreKeys}, {@link ImageRecords}, {@link StoreIndex}, {@link
 * StoreSession} (the temp area), {@link StoreLocks}, {@link StoreLeases} (what running bakes use)
 * and {@link StoreGc} (garbage collection).
 *
 * <p>Every write goes to a file in {@code tmp/} and is renamed into place ({@link StoreFiles}); a
 * destination that exists is kept (content addressed, so it is the same content, or it is verified
 * and replaced if corrupt). {@code kill -9} at any moment leaves at worst a stray temp directory,
 * which the next process that opens the store removes once no live process holds its lock.
 * Cross-process coordination uses file locks under {@code locks/}. Thread-safe.
 */
public final class LocalStore implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LocalStore.class);

  private final Path root;
  private final StoreSession session;
  private final StoreFiles files;
  private final StoreLocks locks;
  private final VerifiedBlobs checkedOutputs;
  private final StoreIndex index;
  private final StoreBlobs blobs;
  private final StoreKeys keys;
  private final ImageRecords records;
  private final StoreLeases leases;
  private final VerifiedBlobs verified;
  private volatile BiConsumer<Digest, String> corruption = (d, why) -> {};

  private LocalStore(Path root) throws IOException {
    this.root = root;
    Path tmpRoot = root.resolve("tmp");
    for (Path d :
        new Path[] {
          root.resolve("blobs").resolve("sha256"),
          root.resolve("keys"),
          root.resolve("records"),
          tmpRoot,
          root.resolve("locks"),
          root.resolve("stat")
        }) {
      Files.createDirectories(d);
    }
    this.session = StoreSession.start(tmpRoot);
    this.leases = new StoreLeases(session.dir(), root.resolve("locks"));
    this.files = new StoreFiles(session);
    this.locks = new StoreLocks(root.resolve("locks"));
    VerifiedBlobs verified =
        new VerifiedBlobs(root.resolve("stat").resolve("blobs"), () -> newTempFile(".tmp"));
    this.verified = verified;
    this.checkedOutputs =
        new VerifiedBlobs(root.resolve("stat").resolve("outputs"), () -> newTempFile(".tmp"));
    this.index = new StoreIndex(this, verified);
    this.blobs = new StoreBlobs(root, session, verified, index, this::corrupt);
    this.keys = new StoreKeys(this, verified);
    this.records = new ImageRecords(root.resolve("records"), files);
    index.initLayout();
    session.sweepStale();
  }

  /** Opens (creating if needed) the store at {@code root}. */
  public static LocalStore open(Path root) throws IOException {
    return new LocalStore(root.toAbsolutePath().normalize());
  }

  public Path root() {
    return root;
  }

  /** Tells {@code listener} of every damaged blob the store finds (and repairs) by itself. */
  public void onCorruption(BiConsumer<Digest, String> listener) {
    this.corruption = listener;
  }

  void corrupt(Digest digest, String why) {
    try {
      corruption.accept(digest, why);
    } catch (RuntimeException e) {
      log.warn("corruption listener failed: {}", e.toString());
    }
  }

  // ---- temp area ----

  /** A new empty temp directory in this process's session. */
  public Path newTempDirectory() throws IOException {
    return session.newTempDirectory();
  }

  /** A new temp file path (not created) in this process's session. */
  public Path newTempFile(String suffix) {
    return session.newTempFile(suffix);
  }

  // ---- blobs ----

  /**
   * Where a blob is. Every access to a blob through the store, this one included, announces that a
   * bake uses it, so that no garbage collection removes it until the bake ends ({@link #use()}).
   */
  public Path blobPath(Digest digest) {
    leases.blob(digest);
    return blobs.path(digest);
  }

  /** Where a blob is, without announcing its use: for the store's own checks and collection. */
  Path blobFile(Digest digest) {
    return blobs.path(digest);
  }

  public boolean hasBlob(Digest digest) {
    leases.blob(digest);
    return blobs.has(digest);
  }

  public long blobSize(Digest digest) throws IOException {
    leases.blob(digest);
    return blobs.size(digest);
  }

  /**
   * Moves a temp file whose content has {@code digest} into the blob store. If the blob is already
   * there and matches its digest it is kept and the temp file deleted; if it does not (truncated,
   * damaged), the temp file replaces it.
   */
  public void commitBlob(Path tempFile, Digest digest) throws IOException {
    leases.blob(digest);
    blobs.commit(tempFile, digest);
  }

  /**
   * Stores small content (configs, manifests) and returns its digest; a stored copy that differs is
   * replaced.
   */
  public Digest putBlob(byte[] content) throws IOException {
    leases.blob(Digest.of(content));
    return blobs.put(content);
  }

  /**
   * Checks a stored blob against its size and digest, hashing it unless its stat is the one it had
   * when it last matched (see {@link VerifiedBlobs}). False when it is missing, of another size, or
   * corrupt.
   */
  public boolean verified(Digest digest, long size) throws IOException {
    leases.blob(digest);
    return blobs.matches(digest, size);
  }

  /**
   * Opens a blob; the stream verifies the digest as it is read and throws at the end if it does not
   * match.
   */
  public InputStream openBlob(Digest digest) throws IOException {
    leases.blob(digest);
    return blobs.open(digest);
  }

  /** A whole blob (a manifest or config), checked against its digest as it is read. */
  public byte[] readBlob(Digest digest) throws IOException {
    leases.blob(digest);
    return blobs.read(digest);
  }

  /** Hashes a blob completely; true when it matches its digest. */
  public boolean verify(Digest digest) throws IOException {
    leases.blob(digest);
    return blobs.verify(digest);
  }

  /**
   * Removes a (corrupt) blob, every key that refers to it, and every entry of {@code index.json}
   * whose image needs it (the image records stay: rebaking the image restores exactly that image).
   */
  public void evict(Digest digest) throws IOException {
    evictBlob(digest, "it does not match its digest");
    try (StoreLock l = lock("index")) {
      index.invalidate();
      index.readRepaired();
    }
  }

  /**
   * Removes a blob and every key that refers to it; {@code index.json} is repaired by the caller.
   */
  void evictBlob(Digest digest, String why) throws IOException {
    log.warn("evicting blob {} from the store at {}: {}", digest, root, why);
    blobs.delete(digest);
    keys.deleteReferringTo(digest);
  }

  // ---- keys ----

  /** The layer a cache key maps to, if the key and its blob are present. */
  public Optional<KeyEntry> key(Digest key) throws IOException {
    return keys.get(key);
  }

  /**
   * Records what a cache key maps to (the blob must be committed first), sealed with a digest of
   * the key and the entry so that a damaged entry is recognised and dropped.
   */
  public void putKey(Digest key, KeyEntry entry) throws IOException {
    keys.put(key, entry);
  }

  // ---- image records ----

  /**
   * Writes the image record for a manifest digest once; an existing record is kept unless it is
   * damaged (not sealed by its own digest, or not about this image), when it is written again with
   * the time it was first baked if that is still readable. Returns its path.
   */
  public Path writeRecord(Digest image, ObjectNode record) throws IOException {
    return records.write(image, record);
  }

  /** Writes what a target holds of an image, once per (image, target). */
  public Path writeTargetRecord(Digest image, String target, ObjectNode record) throws IOException {
    return records.writeTarget(image, target, record);
  }

  /** Where the image record of a manifest digest is (or would be). */
  public Path recordPath(Digest image) {
    return records.path(image);
  }

  // ---- index.json ----

  /** Adds (or retags) a manifest in the layout's index.json under {@code refName}. */
  public void tag(Digest manifest, long size, String refName) throws IOException {
    tag(manifest, size, refName, Json.MANIFEST_TYPE);
  }

  /** Adds (or retags) a manifest or image index of {@code mediaType} under {@code refName}. */
  public void tag(Digest manifest, long size, String refName, String mediaType) throws IOException {
    try (StoreLock l = lock("index")) {
      index.tag(manifest, size, refName, mediaType);
    }
  }

  // ---- locks and atomic files ----

  /**
   * Takes the named lock, across threads of this JVM and across processes. Blocks until it is free.
   */
  public StoreLock lock(String name) throws IOException {
    return locks.lock(name);
  }

  /**
   * Writes {@code content} to {@code target} through a temp file and an atomic rename (replacing).
   */
  public void writeAtomically(Path target, byte[] content) throws IOException {
    files.writeAtomically(target, content);
  }

  /** Moves a finished temp file into place, replacing nothing that exists. */
  public void commitFile(Path tempFile, Path target) throws IOException {
    StoreFiles.moveIntoPlace(tempFile, target);
  }

  // ---- disks, chunk hints, stat files ----

  /**
   * Where the raw disk for a disk key is cached ({@code disks/<key>.raw}, with {@code .json} beside
   * it).
   */
  public Path diskPath(Digest diskKey) throws IOException {
    leases.disk(diskKey);
    Path dir = Files.createDirectories(root.resolve("disks"));
    StoreFiles.touch(dir.resolve(diskKey.hex() + ".json"));
    return dir.resolve(diskKey.hex() + ".raw");
  }

  // ---- lifecycle ----

  /**
   * Starts a use of the store (a bake, a publication): the blobs and disks it touches stay leased
   * until the last use running in this process is closed.
   */
  public StoreLock use() {
    leases.begin();
    return leases::end;
  }

  /**
   * Collects garbage as {@code policy} says ({@code docs/lifecycle.md}); safe while other threads
   * and processes bake into the store. Unless it is a dry run, it first checks every entry of
   * {@code index.json} and removes those that are not valid (a bake checks only the entries it
   * tags).
   */
  public RetentionReport gc(GcPolicy policy) throws IOException {
    if (!policy.isDryRun()) {
      checkIndex();
    }
    return new StoreGc(this, leases, verified, index).run(policy);
  }

  /**
   * Rebuilds an {@code index.json} that does not read from the image records (the unreadable file
   * is kept as {@code index.json.corrupt}); true when it did. A collection does this first, so that
   * {@code kiln gc} repairs what a listing reports.
   */
  public boolean rebuildUnreadableIndex() throws IOException {
    try (StoreLock l = lock("index")) {
      return index.rebuildIfUnreadable();
    }
  }

  /**
   * Checks every entry of {@code index.json} as {@code docs/reliability.md} says, removing the
   * entries that are not valid and evicting the corrupt blobs found on the way. An index that does
   * not read is left for the next bake, which rebuilds it from the image records.
   */
  public void checkIndex() throws IOException {
    try (StoreLock l = lock("index")) {
      index.checkAll();
    }
  }

  /**
   * Whether a periodic collection is due: none started in any process for {@code interval} (by the
   * mtime of {@code stat/gc}, which this sets when it answers yes). A store never collected (new,
   * or of a version that did not mark uses) is not due: its key entries, image records and disk
   * infos are marked as used now, so that age counts from here, and its first collection is one
   * {@code interval} later. A stamp more than {@code interval} in the future, or one that is not a
   * file (a directory, a link: replaced, never written through), makes it due.
   */
  public boolean periodicGcDue(Duration interval) throws IOException {
    return StoreGc.periodicDue(root, interval);
  }

  /** The bytes of the store's blobs and disks, by their sizes: what {@code maxBytes} limits. */
  public long size() throws IOException {
    return StoreGc.size(root);
  }

  /**
   * Where the gzip chunk index of a layer blob is kept ({@code chunks/<blob hex>}): a hint for
   * rewriting the layer incrementally, never trusted for content.
   */
  public Path chunkIndexPath(Digest blob) throws IOException {
    return Files.createDirectories(root.resolve("chunks")).resolve(blob.hex());
  }

  /**
   * The latest blob of a layer's lineage (its kind and name), as {@link #setLatestBlob} left it; a
   * hint.
   */
  public Optional<Digest> latestBlob(String lineage) {
    try {
      String hex =
          Files.readString(root.resolve("chunks").resolve("lineage").resolve(lineage)).strip();
      return Optional.of(Digest.parse("sha256:" + hex));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Records the blob just written for a layer's lineage (last writer wins). */
  public void setLatestBlob(String lineage, Digest blob) throws IOException {
    Path dir = Files.createDirectories(root.resolve("chunks").resolve("lineage"));
    writeAtomically(dir.resolve(lineage), blob.hex().getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * Which target files were last checked to hold which image, by their stat ({@code stat/outputs}):
   * an unchanged archive is not read again on every no-op bake.
   */
  public OutputChecks outputChecks() {
    return (what, file, check) -> {
      Path abs = file.toAbsolutePath().normalize();
      Digest id = Digest.of((what + "\n" + abs).getBytes(StandardCharsets.UTF_8));
      return checkedOutputs.check(id, abs, check);
    };
  }

  /** The stat index file. */
  public Path statIndexFile() {
    return root.resolve("stat").resolve("index");
  }

  @Override
  public void close() throws IOException {
    session.close();
  }

  /** A held store lock. */
  public interface StoreLock extends AutoCloseable {
    @Override
    void close() throws IOException;
  }
}
