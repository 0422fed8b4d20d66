package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.Digest;
import dev.kiln.internal.oci.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's {@code keys/}: one sealed {@link KeyEntry} per cache key, {@code keys/<key>.json}. An
 * entry is trusted only with its blob: a damaged entry, or one whose blob is missing, corrupt or
 * not what the entry declares, is dropped and the layer provisioned again. Thread-safe.
 */
final class StoreKeys {
  private static final Logger log = LoggerFactory.getLogger(StoreKeys.class);

  private final LocalStore store;
  private final VerifiedBlobs verified;
  private final Path dir;

  StoreKeys(LocalStore store, VerifiedBlobs verified) {
    this.store = store;
    this.verified = verified;
    this.dir = store.root().resolve("keys");
  }

  /** The layer a cache key maps to, if the key and its blob are present. */
  Optional<KeyEntry> get(Digest key) throws IOException {
    Path p = dir.resolve(key.hex() + ".json");
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
    Path blob = store.blobPath(entry.digest());
    if (!Files.isRegularFile(blob, LinkOption.NOFOLLOW_LINKS)) {
      log.warn(
          "key {} names blob {} which is missing; the layer will be provisioned again",
          key,
          entry.digest());
      Files.deleteIfExists(p);
      return Optional.empty();
    }
    if (!verified.check(entry.digest(), blob)) {
      store.corrupt(
          entry.digest(),
          "blob "
              + entry.digest()
              + " of key "
              + key.shortHex()
              + " in the store is corrupt: its content"
              + " does not match its digest; it is evicted and the layer provisioned again");
      store.evict(entry.digest());
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
      put(key, entry);
    }
    StoreFiles.touch(p); // used now: what garbage collection orders by
    return Optional.of(entry);
  }

  /**
   * Records what a cache key maps to (the blob must be committed first), sealed with a digest of
   * the key and the entry so that a damaged entry is recognised and dropped.
   */
  void put(Digest key, KeyEntry entry) throws IOException {
    Path p = dir.resolve(key.hex() + ".json");
    store.writeAtomically(p, Json.bytes(Seal.seal(key, entry.toJson())));
  }

  /**
   * Deletes every key whose layer is {@code blob} (by digest or diffID), and every unreadable one.
   */
  void deleteReferringTo(Digest blob) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      for (Path k : (Iterable<Path>) s::iterator) {
        try {
          JsonNode n = Json.read(Files.readAllBytes(k));
          if (blob.toString().equals(n.path("digest").asText())
              || blob.toString().equals(n.path("diffId").asText())) {
            Files.deleteIfExists(k);
          }
        } catch (IOException | RuntimeException e) {
          Files.deleteIfExists(k);
        }
      }
    }
  }
}
