package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import com.google.common.io.ByteStreams;
import dev.kiln.Digest;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.CorruptBlobException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded default store: one directory that is at the same time a valid OCI image layout
 * ({@code oci-layout}, {@code index.json}, {@code blobs/sha256/…}) and Kiln's cache ({@code keys/}
 * cache key → layer, {@code stat/} file index, {@code records/} image records, {@code tmp/}, {@code
 * locks/}). This is the only class that knows its paths.
 *
 * <p>Every write goes to a file in {@code tmp/} and is renamed into place; a destination that
 * exists is kept (content addressed, so it is the same content, or it is verified and replaced if
 * corrupt). {@code kill -9} at any moment leaves at worst a stray temp directory, which the next
 * process that opens the store removes once no live process holds its lock. Cross-process
 * coordination uses file locks under {@code locks/}. Thread-safe.
 */
public final class LocalStore implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LocalStore.class);
  private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

  private final Path root;
  private final Path blobs;
  private final Path keys;
  private final Path records;
  private final Path tmpRoot;
  private final Path locks;

  /**
   * The session lock files of every store open in this JVM (a file lock belongs to the process, not
   * the store).
   */
  private static final java.util.Set<Path> LIVE_SESSIONS =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  private final Path session;
  private final FileChannel sessionLockChannel;
  private final FileLock sessionLock;
  private final VerifiedBlobs verified;
  private final VerifiedBlobs checkedOutputs;
  private final StoreIndex index;
  private volatile java.util.function.BiConsumer<Digest, String> corruption = (d, why) -> {};

  private LocalStore(Path root) throws IOException {
    this.root = root;
    this.blobs = root.resolve("blobs").resolve("sha256");
    this.keys = root.resolve("keys");
    this.records = root.resolve("records");
    this.tmpRoot = root.resolve("tmp");
    this.locks = root.resolve("locks");
    for (Path d : new Path[] {blobs, keys, records, tmpRoot, locks, root.resolve("stat")}) {
      Files.createDirectories(d);
    }
    // the lock file is created and locked before the session's directory, and the session starts
    // over if a sweeper
    // removed the file in the instant between (it then sees a free lock): a sweeper never removes a
    // live session,
    // and a process killed at any point leaves a lock file that the next sweep finds
    FileChannel channel;
    FileLock lock;
    String id;
    while (true) {
      id = UUID.randomUUID().toString();
      Path lockFile = tmpRoot.resolve(id + ".lock");
      LIVE_SESSIONS.add(lockFile);
      channel = FileChannel.open(lockFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      lock = channel.lock();
      if (Files.exists(lockFile)) {
        break;
      }
      lock.release();
      channel.close();
      LIVE_SESSIONS.remove(lockFile);
    }
    this.sessionLockChannel = channel;
    this.sessionLock = lock;
    this.session = Files.createDirectories(tmpRoot.resolve(id));
    this.verified =
        new VerifiedBlobs(root.resolve("stat").resolve("blobs"), () -> newTempFile(".tmp"));
    this.checkedOutputs =
        new VerifiedBlobs(root.resolve("stat").resolve("outputs"), () -> newTempFile(".tmp"));
    this.index = new StoreIndex(this, verified);
    initLayout();
    sweepStaleSessions();
  }

  /** Opens (creating if needed) the store at {@code root}. */
  public static LocalStore open(Path root) throws IOException {
    return new LocalStore(root.toAbsolutePath().normalize());
  }

  public Path root() {
    return root;
  }

  /** Tells {@code listener} of every damaged blob the store finds (and repairs) by itself. */
  public void onCorruption(java.util.function.BiConsumer<Digest, String> listener) {
    this.corruption = listener;
  }

  void corrupt(Digest digest, String why) {
    try {
      corruption.accept(digest, why);
    } catch (RuntimeException e) {
      log.warn("corruption listener failed: {}", e.toString());
    }
  }

  private void initLayout() throws IOException {
    // index.json first: a process killed in between leaves no `oci-layout` marker on a directory
    // that is not yet a
    // whole OCI layout
    Path index = root.resolve("index.json");
    if (!Files.exists(index)) {
      try (StoreLock l = lock("index")) {
        if (!Files.exists(index)) {
          writeAtomically(index, Json.bytes(Json.emptyIndex()));
        }
      }
    }
    Path layout = root.resolve("oci-layout");
    if (!layoutFileValid(layout)) {
      writeAtomically(
          layout,
          "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
  }

  private static boolean layoutFileValid(Path layout) {
    try {
      return Json.read(Files.readAllBytes(layout)).path("imageLayoutVersion").isTextual();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Removes temp directories of processes that are gone (their lock is free). */
  private void sweepStaleSessions() {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tmpRoot, "*.lock")) {
      for (Path lockFile : ds) {
        String name = lockFile.getFileName().toString();
        Path dir = tmpRoot.resolve(name.substring(0, name.length() - ".lock".length()));
        if (dir.equals(session) || LIVE_SESSIONS.contains(lockFile)) {
          // this JVM's own session (of another LocalStore on this store): never open its lock file,
          // since closing
          // any channel of a file releases all of this process's locks on it, and another process
          // could then
          // sweep a live session
          continue;
        }
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
          FileLock fl = ch.tryLock();
          if (fl == null) {
            continue;
          }
          try {
            deleteTree(dir);
            Files.deleteIfExists(lockFile);
            log.debug("removed stale temp directory {}", dir);
          } finally {
            fl.release();
          }
        } catch (java.nio.channels.OverlappingFileLockException | IOException e) {
          // held by this JVM or racing with another sweeper: leave it
        }
      }
    } catch (IOException e) {
      log.warn("could not sweep {}: {}", tmpRoot, e.toString());
    }
    // a session directory without its lock file: left by a version of Kiln that made the directory
    // first and was
    // killed before it made the lock (a session of this version always has its lock file first)
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(tmpRoot, p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))) {
      long old = System.currentTimeMillis() - java.util.concurrent.TimeUnit.MINUTES.toMillis(10);
      for (Path dir : ds) {
        if (!dir.equals(session)
            && !Files.exists(tmpRoot.resolve(dir.getFileName() + ".lock"))
            && Files.getLastModifiedTime(dir, LinkOption.NOFOLLOW_LINKS).toMillis() < old) {
          deleteTree(dir);
          log.debug("removed orphaned temp directory {}", dir);
        }
      }
    } catch (IOException e) {
      log.debug("could not sweep orphaned directories of {}: {}", tmpRoot, e.toString());
    }
  }

  // ---- temp area ----

  /** A new empty temp directory in this process's session. */
  public Path newTempDirectory() throws IOException {
    return Files.createTempDirectory(session, "d");
  }

  /** A new temp file path (not created) in this process's session. */
  public Path newTempFile(String suffix) {
    return session.resolve(UUID.randomUUID() + suffix);
  }

  // ---- blobs ----

  public Path blobPath(Digest digest) {
    return blobs.resolve(digest.hex());
  }

  public boolean hasBlob(Digest digest) {
    return Files.isRegularFile(blobPath(digest));
  }

  public long blobSize(Digest digest) throws IOException {
    return Files.size(blobPath(digest));
  }

  /**
   * Moves a temp file whose content has {@code digest} into the blob store. If the blob is already
   * there and matches its digest it is kept and the temp file deleted; if it does not (truncated,
   * damaged), the temp file replaces it.
   */
  public void commitBlob(Path tempFile, Digest digest) throws IOException {
    Path target = blobPath(digest);
    if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      if (Files.isRegularFile(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)
          && Files.size(target) == Files.size(tempFile)
          && verified.check(digest, target)) {
        Files.deleteIfExists(tempFile);
        return;
      }
      replaceBlob(tempFile, digest);
      return;
    }
    moveIntoPlace(tempFile, target);
  }

  /**
   * Stores small content (configs, manifests) and returns its digest; a stored copy that differs is
   * replaced.
   */
  public Digest putBlob(byte[] content) throws IOException {
    Digest d = Digest.of(content);
    Path p = blobPath(d);
    byte[] there;
    try {
      there =
          Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                  && Files.size(p) == content.length
              ? Files.readAllBytes(p)
              : null;
    } catch (NoSuchFileException e) {
      there = null;
    }
    if (there == null || !java.util.Arrays.equals(there, content)) {
      Path tmp = newTempFile(".blob");
      Files.write(tmp, content);
      if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        replaceBlob(tmp, d);
      } else {
        moveIntoPlace(tmp, p);
      }
    }
    return d;
  }

  /** Puts a verified temp file in place of a stored blob that does not match its digest. */
  private void replaceBlob(Path tempFile, Digest digest) throws IOException {
    log.warn("blob {} in the store at {} does not match its digest; replacing it", digest, root);
    corrupt(
        digest,
        "blob "
            + digest
            + " in the store does not match its digest; it was replaced by a verified copy");
    Path target = blobPath(digest);
    if (Files.isDirectory(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      deleteTree(target);
    }
    Files.move(
        tempFile, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    verified.forget(digest);
    index.invalidate();
  }

  /**
   * Checks a stored blob against its size and digest, hashing it unless its stat is the one it had
   * when it last matched (see {@link VerifiedBlobs}). False when it is missing, of another size, or
   * corrupt.
   */
  public boolean verified(Digest digest, long size) throws IOException {
    Path p = blobPath(digest);
    try {
      return Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
          && Files.size(p) == size
          && verified.check(digest, p);
    } catch (NoSuchFileException e) {
      return false;
    }
  }

  /**
   * Opens a blob; the stream verifies the digest as it is read and throws at the end if it does not
   * match.
   */
  public InputStream openBlob(Digest digest) throws IOException {
    InputStream in;
    try {
      in = Files.newInputStream(blobPath(digest));
    } catch (NoSuchFileException e) {
      throw new CorruptBlobException(
          digest, "blob " + digest + " is missing from the store at " + root);
    }
    return new VerifyingInputStream(in, digest);
  }

  /** A whole blob (a manifest or config), checked against its digest as it is read. */
  public byte[] readBlob(Digest digest) throws IOException {
    try (InputStream in = openBlob(digest)) {
      return in.readAllBytes();
    }
  }

  /** Hashes a blob completely; true when it matches its digest. */
  public boolean verify(Digest digest) throws IOException {
    try (InputStream in = openBlob(digest)) {
      ByteStreams.exhaust(in);
      return true;
    } catch (CorruptBlobException e) {
      return false;
    }
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
    Files.deleteIfExists(blobPath(digest));
    verified.forget(digest);
    index.invalidate();
    try (Stream<Path> s = Files.list(keys)) {
      for (Path k : (Iterable<Path>) s::iterator) {
        try {
          JsonNode n = Json.read(Files.readAllBytes(k));
          if (digest.toString().equals(n.path("digest").asText())
              || digest.toString().equals(n.path("diffId").asText())) {
            Files.deleteIfExists(k);
          }
        } catch (IOException | RuntimeException e) {
          Files.deleteIfExists(k);
        }
      }
    }
  }

  // ---- keys ----

  /** The layer a cache key maps to, if the key and its blob are present. */
  public Optional<KeyEntry> key(Digest key) throws IOException {
    Path p = keys.resolve(key.hex() + ".json");
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(p);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    KeyEntry entry;
    boolean sealed;
    try {
      JsonNode n = Json.read(bytes);
      sealed = Seal.verify(key, n);
      entry = KeyEntry.fromJson(n);
    } catch (IOException | RuntimeException e) {
      log.warn("unreadable key entry {}: {}; the layer will be provisioned again", p, e.toString());
      Files.deleteIfExists(p);
      return Optional.empty();
    }
    Path blob = blobPath(entry.digest());
    if (!Files.isRegularFile(blob, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      log.warn(
          "key {} names blob {} which is missing; the layer will be provisioned again",
          key,
          entry.digest());
      Files.deleteIfExists(p);
      return Optional.empty();
    }
    if (!verified.check(entry.digest(), blob)) {
      corrupt(
          entry.digest(),
          "blob "
              + entry.digest()
              + " of key "
              + key.shortHex()
              + " in the store is corrupt: its content"
              + " does not match its digest; it is evicted and the layer provisioned again");
      evict(entry.digest());
      return Optional.empty();
    }
    if (Files.size(blob) != entry.size()) {
      log.warn(
          "key {} declares size {} for blob {}, which has {} bytes; the layer will be provisioned again",
          key,
          entry.size(),
          entry.digest(),
          Files.size(blob));
      Files.deleteIfExists(p);
      return Optional.empty();
    }
    if (!sealed) {
      // written before entries were sealed: what the seal would vouch for beyond the blob is its
      // diffID
      if (!Seal.diffIdMatches(entry, blob)) {
        log.warn(
            "key {} declares diffID {}, which blob {} does not have; the layer will be provisioned again",
            key,
            entry.diffId(),
            entry.digest());
        Files.deleteIfExists(p);
        return Optional.empty();
      }
      putKey(key, entry);
    }
    return Optional.of(entry);
  }

  /**
   * Records what a cache key maps to (the blob must be committed first), sealed with a digest of
   * the key and the entry so that a damaged entry is recognised and dropped.
   */
  public void putKey(Digest key, KeyEntry entry) throws IOException {
    Path p = keys.resolve(key.hex() + ".json");
    writeAtomically(p, Json.bytes(Seal.seal(key, entry.toJson())));
  }

  // ---- image records ----

  /**
   * Writes the image record for a manifest digest once; an existing record is kept unless it is
   * damaged (not sealed by its own digest, or not about this image), when it is written again with
   * the time it was first baked if that is still readable. Returns its path.
   */
  public Path writeRecord(Digest image, ObjectNode record) throws IOException {
    Path p = records.resolve(image.hex() + ".json");
    if (!Files.exists(p)) {
      writeAtomicallyKeepExisting(p, Json.bytes(Seal.seal(image, record)));
      return p;
    }
    JsonNode there = null;
    try {
      there = Json.read(Files.readAllBytes(p));
      if (there.isObject()
          && Seal.verify(image, there)
          && image.toString().equals(there.path("image").asText())) {
        return p;
      }
      if (there.isObject() && !there.has(Seal.FIELD) && Seal.sameImage(there, record)) {
        writeAtomically(p, Json.bytes(Seal.seal(image, ((ObjectNode) there).deepCopy())));
        return p;
      }
    } catch (IOException | RuntimeException e) {
      // damaged: written again below
    }
    log.warn("image record {} is damaged; writing it again", p);
    ObjectNode fresh = record.deepCopy();
    String first = there == null ? "" : there.path("firstBaked").asText("");
    try {
      java.time.Instant.parse(first);
      fresh.put("firstBaked", first);
    } catch (RuntimeException e) {
      // unreadable: the record says now
    }
    writeAtomically(p, Json.bytes(Seal.seal(image, fresh)));
    return p;
  }

  /** Writes what a target holds of an image, once per (image, target). */
  public Path writeTargetRecord(Digest image, String target, ObjectNode record) throws IOException {
    Path dir = Files.createDirectories(records.resolve(image.hex()));
    String name =
        Hashing.sha256()
            .hashString(target, java.nio.charset.StandardCharsets.UTF_8)
            .toString()
            .substring(0, 16);
    Path p = dir.resolve(name + ".json");
    writeAtomicallyKeepExisting(p, Json.bytes(record));
    return p;
  }

  /** Where the image record of a manifest digest is (or would be). */
  public Path recordPath(Digest image) {
    return records.resolve(image.hex() + ".json");
  }

  // ---- index.json ----

  /** Adds (or retags) a manifest in the layout's index.json under {@code refName}. */
  public void tag(Digest manifest, long size, String refName) throws IOException {
    tag(manifest, size, refName, Json.MANIFEST_TYPE);
  }

  /** Adds (or retags) a manifest or image index of {@code mediaType} under {@code refName}. */
  public void tag(Digest manifest, long size, String refName, String mediaType) throws IOException {
    try (StoreLock l = lock("index")) {
      ObjectNode idx = index.readRepaired();
      ArrayNode manifests = idx.withArray("manifests");
      ArrayNode kept = Json.mapper().createArrayNode();
      for (JsonNode m : manifests) {
        String ref = m.path("annotations").path(Json.REF_NAME).asText(null);
        if (refName.equals(ref)) {
          if (manifest.toString().equals(m.path("digest").asText())) {
            return;
          }
          continue;
        }
        kept.add(m);
      }
      ObjectNode desc = Json.manifestDescriptor(manifest, size, refName);
      desc.put("mediaType", mediaType);
      kept.add(desc);
      idx.set("manifests", kept);
      index.write(idx);
    }
  }

  // ---- locks and atomic files ----

  /**
   * Takes the named lock, across threads of this JVM and across processes. Blocks until it is free.
   */
  public StoreLock lock(String name) throws IOException {
    Path p = locks.resolve(name + ".lock");
    ReentrantLock jvm = JVM_LOCKS.computeIfAbsent(p, k -> new ReentrantLock());
    jvm.lock();
    try {
      FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      try {
        FileLock fl = ch.lock();
        return () -> {
          try {
            fl.release();
            ch.close();
          } finally {
            jvm.unlock();
          }
        };
      } catch (IOException | RuntimeException e) {
        ch.close();
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      jvm.unlock();
      throw e;
    }
  }

  /**
   * Writes {@code content} to {@code target} through a temp file and an atomic rename (replacing).
   */
  public void writeAtomically(Path target, byte[] content) throws IOException {
    Path tmp = newTempFile(".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      out.write(content);
    }
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private void writeAtomicallyKeepExisting(Path target, byte[] content) throws IOException {
    Path tmp = newTempFile(".tmp");
    Files.write(tmp, content);
    moveIntoPlace(tmp, target);
  }

  /**
   * Renames {@code tmp} to {@code target} unless {@code target} exists, in which case {@code tmp}
   * is removed.
   */
  private static void moveIntoPlace(Path tmp, Path target) throws IOException {
    if (Files.exists(target)) {
      Files.deleteIfExists(tmp);
      return;
    }
    try {
      // a hard link fails if the target exists: no window in which a half-written file is visible
      // or replaced
      Files.createLink(target, tmp);
      Files.delete(tmp);
    } catch (FileAlreadyExistsException e) {
      Files.deleteIfExists(tmp);
    } catch (UnsupportedOperationException | IOException e) {
      if (Files.exists(target)) {
        Files.deleteIfExists(tmp);
        return;
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e2) {
        Files.move(tmp, target);
      }
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(java.util.Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.deleteIfExists(p);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /**
   * Where the raw disk for a disk key is cached ({@code disks/<key>.raw}, with {@code .json} beside
   * it).
   */
  public Path diskPath(Digest diskKey) throws IOException {
    return Files.createDirectories(root.resolve("disks")).resolve(diskKey.hex() + ".raw");
  }

  /** Moves a finished temp file into place, replacing nothing that exists. */
  public void commitFile(Path tempFile, Path target) throws IOException {
    moveIntoPlace(tempFile, target);
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
    writeAtomically(
        dir.resolve(lineage), blob.hex().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
  }

  /**
   * Which target files were last checked to hold which image, by their stat ({@code stat/outputs}):
   * an unchanged archive is not read again on every no-op bake.
   */
  public dev.kiln.spi.OutputChecks outputChecks() {
    return (what, file, check) -> {
      Path abs = file.toAbsolutePath().normalize();
      Digest id = Digest.of((what + "\n" + abs).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return checkedOutputs.check(id, abs, check);
    };
  }

  /** The stat index file. */
  public Path statIndexFile() {
    return root.resolve("stat").resolve("index");
  }

  @Override
  public void close() throws IOException {
    try {
      deleteTree(session);
    } finally {
      try {
        sessionLock.release();
        sessionLockChannel.close();
        Files.deleteIfExists(tmpRoot.resolve(session.getFileName() + ".lock"));
      } finally {
        LIVE_SESSIONS.remove(tmpRoot.resolve(session.getFileName() + ".lock"));
      }
    }
  }

  /** A held store lock. */
  public interface StoreLock extends AutoCloseable {
    @Override
    void close() throws IOException;
  }

  /** Verifies the SHA-256 of what is read against the expected digest when the end is reached. */
  private static final class VerifyingInputStream extends FilterInputStream {
    private final Digest expected;
    private boolean checked;

    VerifyingInputStream(InputStream in, Digest expected) {
      super(new HashingInputStream(Hashing.sha256(), in));
      this.expected = expected;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b < 0) {
        check();
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n < 0) {
        check();
      }
      return n;
    }

    private void check() throws IOException {
      if (checked) {
        return;
      }
      checked = true;
      String actual = ((HashingInputStream) in).hash().toString();
      if (!actual.equals(expected.hex())) {
        throw new CorruptBlobException(
            expected,
            "blob "
                + expected
                + " in the store is corrupt: its content hashes to sha256:"
                + actual);
      }
    }
  }
}
