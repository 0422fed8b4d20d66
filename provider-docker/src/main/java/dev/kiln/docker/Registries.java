package dev.kiln.docker;

import dev.kiln.Digest;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Registry clients shared by the stores and the base-image provider of one process (so tokens are
 * reused), and where blobs were last seen in each registry (so a push can mount a blob from another
 * repository instead of uploading it). Thread-safe.
 */
final class Registries {
  static final int ATTEMPTS = 5;
  static final Duration BACKOFF = Duration.ofMillis(200);
  static final long CHUNK = 32L << 20;

  /**
   * Parts of a layer streamed while it is compressed: a part is sent as soon as this much more of
   * the layer is written, and holds all that is written then, up to {@link #STREAM_PART_MAX}.
   */
  static final int STREAM_PART = 8 << 20;

  /** The largest part of a layer streamed while it is compressed. */
  static final long STREAM_PART_MAX = 512L << 20;

  /** The part sizes in use (tests make them small to see several parts of a small layer). */
  static volatile int streamPart = STREAM_PART;

  static volatile long streamPartMax = STREAM_PART_MAX;

  /** Blobs of one publication uploaded at once. */
  static final int PARALLEL_BLOBS = 4;

  private static final Map<String, RegistryClient> CLIENTS = new ConcurrentHashMap<>();
  private static final Map<String, Map<Digest, Set<String>>> SEEN = new ConcurrentHashMap<>();

  private Registries() {}

  static RegistryClient client(
      ImageReference ref, boolean plainHttp, RegistryCredentials.Credentials given) {
    RegistryCredentials.Credentials creds =
        given != null ? given : RegistryCredentials.find(ref.registry()).orElse(null);
    URI base = URI.create((plainHttp ? "http://" : "https://") + ref.apiHost() + "/");
    String key =
        base
            + " "
            + (creds == null
                ? "-"
                : creds.user() + ":" + Integer.toHexString(creds.secret().hashCode()));
    return CLIENTS.computeIfAbsent(
        key, k -> new RegistryClient(ref.registry(), base, creds, ATTEMPTS, BACKOFF, CHUNK));
  }

  /** Remembers that {@code repo} of {@code registry} holds the blob. */
  static void seen(String registry, Digest blob, String repo) {
    SEEN.computeIfAbsent(registry, r -> new ConcurrentHashMap<>())
        .computeIfAbsent(blob, b -> ConcurrentHashMap.newKeySet())
        .add(repo);
  }

  /**
   * Uploads of blobs now under way in this process, by registry, repository and digest: a second
   * push of the same blob to the same repository (another tag of the same bake, say) waits for the
   * first instead of sending the bytes again.
   */
  private static final Map<String, CompletableFuture<?>> IN_FLIGHT = new ConcurrentHashMap<>();

  /** The layers being written that a store streams, with the repositories they stream to. */
  private static final Map<Object, Set<String>> STREAMING = new ConcurrentHashMap<>();

  private static String where(String registry, String repo) {
    return registry + "/" + repo;
  }

  /**
   * Registers {@code upload} as the upload of the blob to {@code repo}, until it completes. Returns
   * the upload already registered instead, if there is one (then {@code upload} is not).
   */
  static Optional<CompletableFuture<?>> uploading(
      String registry, Digest blob, String repo, CompletableFuture<?> upload) {
    String key = where(registry, repo) + "@" + blob;
    CompletableFuture<?> other = IN_FLIGHT.putIfAbsent(key, upload);
    if (other != null) {
      return Optional.of(other);
    }
    upload.whenComplete((v, e) -> IN_FLIGHT.remove(key, upload));
    return Optional.empty();
  }

  /**
   * Claims the streaming of a layer being written (the same object for every store of the bake) to
   * {@code repo}: true for the first store that asks, until {@link #streamed}.
   */
  static boolean claimStream(Object layer, String registry, String repo) {
    return STREAMING
        .computeIfAbsent(layer, l -> ConcurrentHashMap.newKeySet())
        .add(where(registry, repo));
  }

  /** Forgets the claims on a layer whose bake ended. */
  static void streamed(Object layer) {
    STREAMING.remove(layer);
  }

  /** Another repository of the registry known to hold the blob. */
  static Optional<String> elsewhere(String registry, Digest blob, String repo) {
    Set<String> repos = SEEN.getOrDefault(registry, Map.of()).getOrDefault(blob, Set.of());
    return repos.stream().filter(r -> !r.equals(repo)).sorted().findFirst();
  }
}
