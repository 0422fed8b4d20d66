package dev.kiln.spi;

import dev.kiln.Digest;
import dev.kiln.RetentionReport;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.function.LongConsumer;
import java.util.regex.Pattern;

/**
 * A cache shared by many machines, kept in a store the team already runs (an OCI registry, an S3
 * bucket): blobs by digest, and small JSON entries by (namespace, key). Core decides what the
 * entries mean (a layer's cache key → its blob and diffID, a disk key → its compressed disk, an EC2
 * image key → a snapshot id), so every backend stores the same entries and knows nothing about
 * layers.
 *
 * <p>Contract for implementations:
 *
 * <ul>
 *   <li>{@link #putEntry} replaces one entry atomically (one manifest tag, one object): a reader
 *       sees the old value or the new one, never a mixture, and concurrent writers of one key leave
 *       one of their values. No read-modify-write of a shared index.
 *   <li>An entry's blob is pushed before the entry, and the entry references it where the backend
 *       collects garbage (a registry), so an entry never names a blob that was never there.
 *   <li>Nothing fetched is trusted: the engine checks every blob against its digest before it is
 *       used.
 *   <li>Calls may block; the engine bounds them with its own timeouts and interrupts a call it gave
 *       up on. Implementations should also set their own connect and read timeouts.
 * </ul>
 *
 * <p>Implementations must be thread-safe. Found by {@link RemoteCacheProvider} from the URI scheme
 * given to {@code Kiln.builder().remoteCache(uri)}.
 */
public interface RemoteCache extends AutoCloseable {

  /** What a bake does with the remote cache. */
  enum Mode {
    /** Look keys up before provisioning, push what was provisioned locally (the default). */
    READ_WRITE,
    /**
     * Look keys up, never write (runners that must not publish, such as builds of untrusted
     * branches).
     */
    READ_ONLY,
    /** Push what was provisioned, never look up (a trusted builder that seeds the cache). */
    WRITE_ONLY;

    public boolean reads() {
      return this != WRITE_ONLY;
    }

    public boolean writes() {
      return this != READ_ONLY;
    }
  }

  /** How much of a downloaded layer blob a bake checks before its local store takes it. */
  enum Verify {
    /**
     * Its size and blob digest (the default), as registry clients and content stores check what
     * they pull: every byte is the one the entry's writer pushed, whatever the transport or the
     * backend's storage did to it. The entry's diffID is taken as written; a writer that lied about
     * it is caught where the layer is unpacked (docker load and containerd compare diffIDs), not
     * silently.
     */
    DIGEST,
    /**
     * Also decompresses the blob and checks the entry's diffID (about one core-second per 200 MB of
     * layer here), for caches that writers outside the team's own builds can reach.
     */
    CONTENT
  }

  /**
   * A blob that an entry refers to: a registry keeps it from garbage collection by referencing it.
   */
  record BlobRef(Digest digest, long size, String mediaType) {}

  /**
   * Namespaces are short lowercase words: {@code keys} (layers), {@code disks}, {@code
   * ec2-snapshots}.
   */
  Pattern NAMESPACE = Pattern.compile("[a-z0-9][a-z0-9-]{0,23}");

  /**
   * Entry keys are lowercase hex digests or similar names, short enough for a registry tag (128
   * characters).
   */
  Pattern KEY = Pattern.compile("[a-z0-9][a-z0-9._-]{0,89}");

  /** Where this cache is, for messages and events (never with credentials). */
  String describe();

  /** Whether the cache holds the blob. */
  boolean hasBlob(Digest digest) throws IOException;

  /**
   * Downloads a blob into {@code dest} (which does not exist yet), reporting the bytes received so
   * far. The caller verifies the digest and size; an implementation need not.
   *
   * @throws java.io.FileNotFoundException when the cache does not hold the blob
   */
  void fetchBlob(Digest digest, Path dest, LongConsumer progress) throws IOException;

  /**
   * Uploads a blob from {@code file} unless the cache already holds it; returns the bytes sent (0
   * when it was there). Content-addressed, so concurrent pushes of one blob are harmless.
   */
  long pushBlob(Digest digest, long size, String mediaType, Path file, LongConsumer progress)
      throws IOException;

  /**
   * The entry stored under (namespace, key), if any: the bytes exactly as {@link #putEntry} was
   * given them.
   */
  Optional<byte[]> getEntry(String namespace, String key) throws IOException;

  /**
   * Stores a small JSON entry (at most a few KiB) under (namespace, key), atomically replacing any
   * entry there. The {@code blob}, when given, must have been pushed first.
   */
  void putEntry(String namespace, String key, byte[] json, Optional<BlobRef> blob)
      throws IOException;

  /**
   * Records that the entry under (namespace, key) was used at {@code at}: a bake read it. {@link
   * #retain} goes by these times, so an entry in use is never dropped as unused. Kept cheap: a
   * backend keeps the last use to the day and writes only when the use it recorded is a day or more
   * before {@code at} (a hit costs nothing more most of the time), or when {@code at} is earlier
   * than the use it recorded. A missing entry is no error. The default records nothing.
   */
  default void touch(String namespace, String key, Instant at) throws IOException {}

  /**
   * Drops the entries {@code policy} lets go (by their last use, see {@link #touch}) and, where the
   * backend can, the blobs only they named; on a dry run only lists them. Entries that lack a
   * recorded use (written before uses were recorded) count as used now, and a run that is not dry
   * records that, so they age from then on. Dropping an entry a runner is about to read costs that
   * runner one miss, never a wrong layer.
   *
   * @return what went (or would go) and what stayed, each with its reason
   * @throws UnsupportedOperationException when the backend cannot list or delete its entries
   */
  default RetentionReport retain(Retention policy) throws IOException {
    throw new UnsupportedOperationException(
        "remote cache " + describe() + " cannot list or delete its entries (no retention)");
  }

  /**
   * Which entries of a remote cache to keep ({@link #retain}): those used within {@link
   * #unusedFor()}, at most {@link #maxEntries()} of them and at most {@link #maxBytes()} of blobs,
   * the most recently used first. {@link #keepAll()} drops nothing; each setter returns a changed
   * copy.
   *
   * <pre>{@code
   * kiln.retainRemoteCache(
   *     RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(30)).maxBytes(200L << 30).dryRun(true));
   * }</pre>
   *
   * @param unusedFor entries not used for this long go; empty: no age limit
   * @param maxEntries at most this many entries stay
   * @param maxBytes the blobs of the entries that stay add up to at most this many bytes (a blob
   *     named by several entries counts once)
   * @param dryRun only list what would go
   */
  record Retention(Optional<Duration> unusedFor, long maxEntries, long maxBytes, boolean dryRun) {
    public Retention {
      Objects.requireNonNull(unusedFor, "unusedFor");
      unusedFor.ifPresent(
          d -> {
            if (d.isNegative() || d.isZero()) {
              throw new IllegalArgumentException("unusedFor must be positive, not " + d);
            }
          });
      if (maxEntries < 0) {
        throw new IllegalArgumentException("maxEntries must not be negative: " + maxEntries);
      }
      if (maxBytes < 0) {
        throw new IllegalArgumentException("maxBytes must not be negative: " + maxBytes);
      }
    }

    /** Keeps every entry (no limit); narrow it with the setters. */
    public static Retention keepAll() {
      return new Retention(Optional.empty(), Long.MAX_VALUE, Long.MAX_VALUE, false);
    }

    /** Entries not used for {@code age} go. */
    public Retention unusedFor(Duration age) {
      return new Retention(
          Optional.of(Objects.requireNonNull(age, "age")), maxEntries, maxBytes, dryRun);
    }

    /** At most {@code count} entries stay, the most recently used. */
    public Retention maxEntries(long count) {
      return new Retention(unusedFor, count, maxBytes, dryRun);
    }

    /** The blobs of the entries that stay add up to at most {@code bytes}. */
    public Retention maxBytes(long bytes) {
      return new Retention(unusedFor, maxEntries, bytes, dryRun);
    }

    /** Only list what would go. */
    public Retention dryRun(boolean on) {
      return new Retention(unusedFor, maxEntries, maxBytes, on);
    }
  }

  /** Releases connections. */
  @Override
  default void close() throws IOException {}

  /** Checks a namespace and key against {@link #NAMESPACE} and {@link #KEY}. */
  static void checkEntryName(String namespace, String key) {
    if (!NAMESPACE.matcher(namespace).matches()) {
      throw new IllegalArgumentException(
          "remote cache namespace '" + namespace + "' must match " + NAMESPACE);
    }
    if (!KEY.matcher(key).matches()) {
      throw new IllegalArgumentException("remote cache key '" + key + "' must match " + KEY);
    }
  }
}
