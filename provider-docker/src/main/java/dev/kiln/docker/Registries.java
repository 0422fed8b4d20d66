package dev.kiln.docker;

import dev.kiln.Digest;
import java.net.URI;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

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
  private static final Map<String, InFlight> IN_FLIGHT = new ConcurrentHashMap<>();

  /** An upload under way, numbered in the order uploads began. */
  private record InFlight(
      long seq, String registry, String repo, Digest blob, CompletableFuture<?> upload) {}

  private static final AtomicLong SEQ = new AtomicLong();

  /** The layers being written that a store streams, with the registries they stream to. */
  private static final Map<Object, Set<String>> STREAMING = new ConcurrentHashMap<>();

  private static String where(String registry, String repo) {
    return registry + "/" + repo;
  }

  /**
   * Registers {@code upload} as the upload of the blob to {@code repo}, until it completes. Returns
   * the upload already registered instead, if there is one that did not fail (then {@code upload}
   * is not).
   */
  static Optional<CompletableFuture<?>> uploading(
      String registry, Digest blob, String repo, CompletableFuture<?> upload) {
    String key = where(registry, repo) + "@" + blob;
    InFlight mine;
    InFlight now;
    // an upload's number and its registration are one step, under the lock uploadingElsewhere
    // reads under: else a later number could be registered first, and two uploads to two
    // repositories would each find no earlier one and both send the blob
    synchronized (IN_FLIGHT) {
      mine = new InFlight(SEQ.incrementAndGet(), registry, repo, blob, upload);
      // an upload that failed is replaced: the next push in line sends the blob
      InFlight m = mine;
      now =
          IN_FLIGHT.compute(
              key, (k, v) -> v == null || v.upload().isCompletedExceptionally() ? m : v);
    }
    if (now != mine) {
      return Optional.of(now.upload());
    }
    upload.whenComplete((v, e) -> IN_FLIGHT.remove(key, mine));
    return Optional.empty();
  }

  /**
   * An upload of the blob to another repository of the registry that began before the one
   * registered for {@code repo}, if one is under way: once it is done, {@code repo} can mount the
   * blob from there. Only earlier uploads are named, so two uploads never wait for each other.
   */
  static Optional<CompletableFuture<?>> uploadingElsewhere(
      String registry, Digest blob, String repo) {
    synchronized (IN_FLIGHT) {
      InFlight mine = IN_FLIGHT.get(where(registry, repo) + "@" + blob);
      long before = mine == null ? Long.MAX_VALUE : mine.seq();
      return IN_FLIGHT.values().stream()
          .filter(
              f ->
                  f.seq() < before
                      && f.registry().equals(registry)
                      && f.blob().equals(blob)
                      && !f.repo().equals(repo))
          .min(Comparator.comparingLong(InFlight::seq))
          .map(InFlight::upload);
    }
  }

  /**
   * Claims the streaming of a layer being written (the same object for every store of the bake) to
   * a registry: true for the first store that asks, until {@link #streamed}. The other repositories
   * of the registry mount the layer from the one it was streamed to.
   */
  static boolean claimStream(Object layer, String registry) {
    return STREAMING.computeIfAbsent(layer, l -> ConcurrentHashMap.newKeySet()).add(registry);
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
