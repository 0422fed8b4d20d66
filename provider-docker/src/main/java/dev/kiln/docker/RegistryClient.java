package dev.kiln.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import dev.kiln.spi.ProgressInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client of the OCI distribution API (what {@code docker push}/{@code pull} speak) on {@code
 * java.net.http}, for one registry: blob existence, cross-repository mounts, streamed monolithic
 * and chunked uploads that resume (or restart) after a failure, manifests, and blob downloads.
 * Authentication follows the registry's challenges: anonymous, Basic, or Bearer tokens from the
 * realm the registry names (as Docker Hub and GHCR do), with the credentials given. Requests that
 * fail with a 5xx, 429 or a connection error are retried with exponential backoff. Thread-safe.
 */
final class RegistryClient {
  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
  static final String ACCEPT =
      String.join(", ", OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST);

  private static final Logger log = LoggerFactory.getLogger(RegistryClient.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern CHALLENGE_PARAM =
      Pattern.compile("([A-Za-z]+)=(?:\"([^\"]*)\"|([^,\\s]*))");
  private static final HttpClient SHARED =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .followRedirects(HttpClient.Redirect.NEVER)
          .connectTimeout(Duration.ofSeconds(15))
          .build();

  private final String registry;
  private final URI base;
  private final RegistryCredentials.Credentials credentials;
  private final HttpClient http;
  private final Map<String, String> authByScope = new ConcurrentHashMap<>();
  private volatile String basicAuth;
  private final int attempts;
  private final Duration backoff;
  private final long chunkSize;

  /** A manifest as the registry holds it. */
  record Manifest(byte[] bytes, String mediaType, Digest digest) {}

  /**
   * Where a blob's bytes come from: opened once per upload, and again (read from the start) only
   * when an attempt has to go back.
   */
  @FunctionalInterface
  interface BlobSource {
    InputStream open() throws IOException;
  }

  RegistryClient(
      String registry,
      URI base,
      RegistryCredentials.Credentials credentials,
      int attempts,
      Duration backoff,
      long chunkSize) {
    this.registry = registry;
    this.base = base;
    this.credentials = credentials;
    this.http = SHARED;
    this.attempts = attempts;
    this.backoff = backoff;
    this.chunkSize = chunkSize;
  }

  String registry() {
    return registry;
  }

  URI base() {
    return base;
  }

  static String pullScope(String repo) {
    return "repository:" + repo + ":pull";
  }

  static String pushScope(String repo) {
    return "repository:" + repo + ":pull,push";
  }

  // ---- blobs ----

  /**
   * Whether {@code repo} has the blob; {@code scope} is the access the caller will need next (pull,
   * or push).
   */
  boolean hasBlob(String repo, Digest digest, String scope) throws IOException {
    HttpResponse<byte[]> r =
        send(
            scope,
            () ->
                request("/v2/" + repo + "/blobs/" + digest)
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()),
            true);
    if (r.statusCode() == 200) {
      return true;
    }
    if (r.statusCode() == 404) {
      return false;
    }
    throw error(r, "HEAD blob " + digest + " in " + repo);
  }

  /**
   * Mounts a blob that the registry holds in repository {@code from} into {@code repo}; empty when
   * it did. When the registry declines, it starts an ordinary upload instead, whose location is
   * returned.
   */
  Optional<URI> mount(String repo, Digest digest, String from) throws IOException {
    String path =
        "/v2/" + repo + "/blobs/uploads/?mount=" + enc(digest.toString()) + "&from=" + enc(from);
    HttpResponse<byte[]> r =
        send(
            pushScope(repo) + " " + pullScope(from),
            () -> request(path).POST(HttpRequest.BodyPublishers.noBody()),
            true);
    if (r.statusCode() == 201) {
      return Optional.empty();
    }
    if (r.statusCode() == 202) {
      return Optional.of(location(r));
    }
    throw error(r, "mount " + digest + " from " + from + " into " + repo);
  }

  URI startUpload(String repo) throws IOException {
    HttpResponse<byte[]> r =
        send(
            pushScope(repo),
            () ->
                request("/v2/" + repo + "/blobs/uploads/")
                    .POST(HttpRequest.BodyPublishers.noBody()),
            true);
    if (r.statusCode() != 202) {
      throw error(r, "start an upload to " + repo);
    }
    return location(r);
  }

  /**
   * Uploads a blob of {@code size} bytes, streamed from {@code source}, and returns how many bytes
   * were sent (more than {@code size} when parts had to be sent again). Blobs up to the chunk size
   * go in one PUT, restarted on failure; larger ones in PATCH chunks sent one after another from
   * one open stream, resumed from what the registry says it has. The source is read once; it is
   * opened again (and read up to the offset) only when an attempt has to go back. The stream's own
   * check runs before the last byte is sent: a source that fails (a store blob that does not match
   * its digest, say) fails the upload with its own error, without retries, and the registry never
   * gets the whole blob. An upload that fails is cancelled at the registry (best effort).
   */
  long upload(
      String repo, Digest digest, long size, BlobSource source, URI started, LongConsumer progress)
      throws IOException {
    AtomicLong sent = new AtomicLong();
    try (BlobReader reader = new BlobReader(source, size)) {
      URI[] location = {started != null ? started : startUpload(repo)};
      try {
        Upload u = new Upload(repo, digest, size, reader, location, sent, progress);
        if (size <= chunkSize) {
          putWhole(u);
        } else {
          putChunks(u);
        }
        return sent.get();
      } catch (IOException | RuntimeException e) {
        cancelUpload(repo, location[0]);
        reader.rethrowFailure();
        throw e;
      }
    }
  }

  /**
   * One blob upload: where it goes, what is read, the upload's current location (replaced when it
   * restarts), the bytes sent so far and where progress goes.
   */
  private record Upload(
      String repo,
      Digest digest,
      long size,
      BlobReader reader,
      URI[] location,
      AtomicLong sent,
      LongConsumer progress) {}

  private void putWhole(Upload u) throws IOException {
    String repo = u.repo();
    Digest digest = u.digest();
    long size = u.size();
    BlobReader reader = u.reader();
    URI[] location = u.location();
    AtomicLong sent = u.sent();
    LongConsumer progress = u.progress();
    for (int attempt = 1; ; attempt++) {
      try {
        URI put = withQuery(location[0], "digest=" + enc(digest.toString()));
        HttpResponse<byte[]> r =
            send(
                pushScope(repo),
                () ->
                    requestTo(put)
                        .header("Content-Type", "application/octet-stream")
                        .PUT(reader.body(0, size, sent, progress)),
                false);
        if (r.statusCode() == 201) {
          return;
        }
        throw error(r, "upload blob " + digest + " to " + repo);
      } catch (IOException e) {
        reader.rethrowFailure();
        if (!retryable(e) || attempt >= attempts) {
          throw e;
        }
        log.info(
            "upload of {} to {}/{} failed ({}); restarting it",
            digest.shortHex(),
            registry,
            repo,
            e.getMessage());
        sleep(attempt);
        cancelUpload(repo, location[0]);
        location[0] = startUpload(repo);
      }
    }
  }

  private void putChunks(Upload u) throws IOException {
    String repo = u.repo();
    Digest digest = u.digest();
    long size = u.size();
    BlobReader reader = u.reader();
    URI[] location = u.location();
    AtomicLong sent = u.sent();
    LongConsumer progress = u.progress();
    long offset = 0;
    int failures = 0;
    while (offset < size) {
      long len = Math.min(chunkSize, size - offset);
      long from = offset;
      URI at = location[0];
      try {
        HttpResponse<byte[]> r =
            patch(repo, at, from, len, () -> reader.body(from, len, sent, progress));
        if (r.statusCode() != 202) {
          throw error(r, "upload a chunk of blob " + digest + " to " + repo);
        }
        location[0] = location(r);
        offset += len;
        failures = 0;
      } catch (IOException e) {
        reader.rethrowFailure();
        if (!retryable(e) || ++failures >= attempts) {
          throw e;
        }
        sleep(failures);
        Optional<Resume> resumed = resume(repo, location[0], offset);
        if (resumed.isEmpty()) {
          log.info(
              "upload of {} to {}/{} failed ({}); the registry lost it, restarting",
              digest.shortHex(),
              registry,
              repo,
              e.getMessage());
          location[0] = startUpload(repo);
          offset = 0;
        } else {
          log.info(
              "upload of {} to {}/{} failed ({}); resuming at byte {}",
              digest.shortHex(),
              registry,
              repo,
              e.getMessage(),
              resumed.get().offset());
          offset = resumed.get().offset();
          location[0] = resumed.get().location();
        }
      }
    }
    completeUpload(repo, location[0], digest, "upload");
  }

  /** Sends {@code len} bytes at {@code from} of an upload at {@code at}: a PATCH with its range. */
  private HttpResponse<byte[]> patch(
      String repo, URI at, long from, long len, Supplier<HttpRequest.BodyPublisher> body)
      throws IOException {
    return send(
        pushScope(repo),
        () ->
            requestTo(at)
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", from + "-" + (from + len - 1))
                .method("PATCH", body.get()),
        false);
  }

  /** Completes an upload whose bytes the registry has: an empty PUT with the blob's digest. */
  private void completeUpload(String repo, URI location, Digest digest, String what)
      throws IOException {
    URI put = withQuery(location, "digest=" + enc(digest.toString()));
    HttpResponse<byte[]> r =
        send(pushScope(repo), () -> requestTo(put).PUT(HttpRequest.BodyPublishers.noBody()), true);
    if (r.statusCode() != 201) {
      throw error(r, "complete the " + what + " of blob " + digest + " to " + repo);
    }
  }

  /** The digest and size a growing blob turned out to have, known once it is fully written. */
  @FunctionalInterface
  interface WrittenBlob {
    /** Waits for the end of the write; throws if it failed. */
    BlobId get() throws IOException;
  }

  /** A blob's digest and size. */
  record BlobId(Digest digest, long size) {}

  /** A blob being written, read as it grows. */
  interface GrowingSource {
    /**
     * A new stream of the blob from its first byte: reads wait for more, {@code available()} is the
     * bytes written beyond its position and {@code skip} skips written bytes without waiting.
     */
    InputStream open() throws IOException;

    /** Whether the write has ended (all of the blob is written, or the write failed). */
    boolean ended();

    /** Waits up to {@code millis} for the blob to grow; returns early when the write ends. */
    default void await(long millis) throws InterruptedException {
      Thread.sleep(millis);
    }
  }

  /**
   * Uploads a blob while it is still being written: starts an upload session and, whenever at least
   * {@code minPart} bytes beyond what was sent are written, sends all of them (up to {@code
   * maxPart}) as one {@code PATCH} part with its {@code Content-Range}, streamed from the blob's
   * file (nothing is held in memory); the faster the blob grows, the larger the parts, and the
   * fewer the round trips (a registry may sync every part to disk). Once the write has ended, the
   * rest goes in the body of the {@code PUT ?digest=} that completes the upload with the digest
   * {@code written} gives, so the registry checks every byte it got against it. A part that fails
   * is sent again from the registry's {@code Range}; on anything else going wrong (the write fails,
   * the sizes differ, the registry refuses the digest) the session is cancelled (best effort) and
   * the error thrown. Returns the bytes sent.
   *
   * <p>When the write has ended with at least {@code minPart} bytes not yet sent, the registry is
   * asked first whether it already holds the blob ({@code HEAD}): a layer written again on a
   * machine without the previous build's store, which the repository got from that build, is then
   * not sent whole a second time; the session is cancelled and {@link AlreadyThere} thrown.
   */
  long uploadGrowing(
      String repo,
      GrowingSource source,
      WrittenBlob written,
      int minPart,
      long maxPart,
      LongConsumer progress)
      throws IOException {
    URI[] location = {startUpload(repo)};
    long sent = 0;
    try (InputStream probe = source.open()) {
      long offset = 0;
      while (true) {
        boolean ended = source.ended(); // before available(): once ended, all of it is written
        long avail = probe.available();
        if (ended) {
          BlobId id = written.get(); // throws when the write failed
          long rest = id.size() - offset;
          if (rest < 0 || (rest < Integer.MAX_VALUE && avail != rest)) {
            throw new IOException(
                "the blob has "
                    + id.size()
                    + " bytes, but "
                    + (offset + avail)
                    + " were written to its file");
          }
          if (rest >= minPart && hasBlob(repo, id.digest(), pushScope(repo))) {
            throw new AlreadyThere(id.digest(), sent);
          }
          while (rest > maxPart) {
            sent += patchPart(repo, location, source, offset, maxPart);
            offset += maxPart;
            rest -= maxPart;
            progress.accept(offset);
          }
          sent += completeWith(repo, location, source, offset, rest, id.digest());
          progress.accept(id.size());
          return sent;
        }
        if (avail < minPart) {
          try {
            source.await(2);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while streaming a blob to " + repo);
          }
          continue;
        }
        long len = Math.min(avail, maxPart);
        sent += patchPart(repo, location, source, offset, len);
        offset += len;
        if (probe.skip(len) != len) {
          throw new IOException("the blob's file did not have the " + len + " bytes just sent");
        }
        progress.accept(offset);
      }
    } catch (IOException | RuntimeException e) {
      cancelUpload(repo, location[0]);
      throw e;
    }
  }

  /**
   * The registry already held the blob a streamed upload was for, found once it was written: the
   * upload was cancelled after {@code sent} bytes.
   */
  static final class AlreadyThere extends IOException {
    private static final long serialVersionUID = 1L;
    final transient Digest digest;
    final long sent;

    AlreadyThere(Digest digest, long sent) {
      super("the registry already holds blob " + digest + "; its streamed upload is cancelled");
      this.digest = digest;
      this.sent = sent;
    }
  }

  /**
   * The {@code len} bytes of the growing blob at {@code offset}, all written, as a request body.
   */
  private static HttpRequest.BodyPublisher growingBody(
      GrowingSource source, long offset, long len) {
    return HttpRequest.BodyPublishers.fromPublisher(
        HttpRequest.BodyPublishers.ofInputStream(
            () -> {
              try {
                InputStream in = source.open();
                if (in.skip(offset) != offset) {
                  in.close();
                  throw new IOException("the blob's file ends before byte " + offset);
                }
                return com.google.common.io.ByteStreams.limit(in, len);
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            }),
        len);
  }

  /**
   * Completes a streamed upload with its last {@code len} bytes (at {@code offset}) in the body of
   * the {@code PUT ?digest=}; returns the bytes sent. When that request fails on the way, the rest
   * is sent as a part from what the registry says it has, and an empty {@code PUT} completes the
   * upload.
   */
  private long completeWith(
      String repo, URI[] location, GrowingSource source, long offset, long len, Digest digest)
      throws IOException {
    long sent = 0;
    if (len > 0) {
      URI put = withQuery(location[0], "digest=" + enc(digest.toString()));
      try {
        HttpResponse<byte[]> r =
            send(
                pushScope(repo),
                () ->
                    requestTo(put)
                        .header("Content-Type", "application/octet-stream")
                        .PUT(growingBody(source, offset, len)),
                false);
        sent += len;
        if (r.statusCode() == 201) {
          return sent;
        }
        throw error(r, "complete the streamed upload of blob " + digest + " to " + repo);
      } catch (IOException e) {
        if (!retryable(e)) {
          throw e;
        }
        Optional<Resume> resumed = resume(repo, location[0], offset);
        if (resumed.isEmpty()) {
          throw e;
        }
        location[0] = resumed.get().location();
        long have = resumed.get().offset();
        if (have < offset || have > offset + len) {
          throw e;
        }
        if (have < offset + len) {
          sent += patchPart(repo, location, source, have, offset + len - have);
        }
      }
    }
    completeUpload(repo, location[0], digest, "streamed upload");
    return sent;
  }

  /**
   * Sends the {@code len} written bytes of the growing blob at {@code offset} as a part of a
   * streamed upload, resuming from what the registry says it has after a retryable failure; returns
   * the bytes sent.
   */
  private long patchPart(String repo, URI[] location, GrowingSource source, long offset, long len)
      throws IOException {
    long sent = 0;
    long from = offset;
    long end = offset + len;
    int failures = 0;
    while (from < end) {
      long start = from;
      URI at = location[0];
      try {
        HttpResponse<byte[]> r =
            patch(repo, at, start, end - start, () -> growingBody(source, start, end - start));
        sent += end - start;
        if (r.statusCode() != 202) {
          throw error(r, "upload a part of a streamed blob to " + repo);
        }
        location[0] = location(r);
        from = end;
      } catch (IOException e) {
        if (!retryable(e) || ++failures >= attempts) {
          throw e;
        }
        sleep(failures);
        Optional<Resume> resumed = resume(repo, location[0], start);
        long have = resumed.map(Resume::offset).orElse(-1L);
        if (have < offset || have > end) {
          throw new IOException(
              "a streamed upload to "
                  + repo
                  + " failed ("
                  + e.getMessage()
                  + ") and cannot resume: the registry has "
                  + (have < 0 ? "lost it" : have + " bytes, the part starts at " + offset),
              e);
        }
        from = have;
        location[0] = resumed.get().location();
      }
    }
    return sent;
  }

  /** Cancels an upload the registry holds (best effort: registries also expire abandoned ones). */
  void cancelUpload(String repo, URI location) {
    if (location == null) {
      return;
    }
    try {
      HttpResponse<byte[]> r = send(pushScope(repo), () -> requestTo(location).DELETE(), false);
      log.debug("cancelled upload {}: HTTP {}", location.getPath(), r.statusCode());
    } catch (IOException | RuntimeException e) {
      log.debug("could not cancel upload {}: {}", location.getPath(), e.toString());
    }
  }

  /** Where an interrupted upload goes on. */
  private record Resume(long offset, URI location) {}

  /** Asks the registry how much of an upload it has; empty when the upload is gone. */
  private Optional<Resume> resume(String repo, URI location, long confirmed) {
    try {
      HttpResponse<byte[]> r = send(pushScope(repo), () -> requestTo(location).GET(), true);
      if (r.statusCode() != 204) {
        return Optional.empty();
      }
      String range = r.headers().firstValue("Range").orElse("0-0");
      long end = Long.parseLong(range.substring(range.indexOf('-') + 1));
      // "0-0" means both "nothing" and "one byte": what was confirmed decides
      long have = end == 0 && confirmed == 0 ? 0 : end + 1;
      URI next = r.headers().firstValue("Location").map(l -> r.uri().resolve(l)).orElse(location);
      return Optional.of(new Resume(have, next));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /**
   * Opens a blob for reading; the caller checks its digest. Redirects (to storage) are followed
   * without credentials.
   */
  InputStream openBlob(String repo, Digest digest) throws IOException {
    HttpResponse<InputStream> r =
        sendStreaming(pullScope(repo), request("/v2/" + repo + "/blobs/" + digest).GET());
    for (int hops = 0; r.statusCode() / 100 == 3 && hops < 5; hops++) {
      URI to =
          r.uri()
              .resolve(
                  r.headers()
                      .firstValue("Location")
                      .orElseThrow(() -> new IOException("redirect without Location")));
      r.body().close();
      try {
        r =
            http.send(
                HttpRequest.newBuilder(to).GET().timeout(Duration.ofMinutes(30)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted");
      }
    }
    if (r.statusCode() != 200) {
      byte[] body = r.body().readAllBytes();
      r.body().close();
      throw error(r.statusCode(), r.headers(), body, "GET blob " + digest + " from " + repo);
    }
    return r.body();
  }

  // ---- manifests ----

  /** The digest of the manifest a tag (or digest) names, if the registry has it. */
  Optional<Digest> manifestDigest(String repo, String reference, String scope) throws IOException {
    HttpResponse<byte[]> r =
        send(
            scope,
            () ->
                request("/v2/" + repo + "/manifests/" + reference)
                    .header("Accept", ACCEPT)
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()),
            true);
    if (r.statusCode() == 404) {
      return Optional.empty();
    }
    if (r.statusCode() != 200) {
      throw error(r, "HEAD manifest " + repo + ":" + reference);
    }
    Optional<String> d = r.headers().firstValue("Docker-Content-Digest");
    if (d.isPresent()) {
      return Optional.of(Digest.parse(d.get()));
    }
    return Optional.of(manifest(repo, reference).digest());
  }

  Manifest manifest(String repo, String reference) throws IOException {
    HttpResponse<byte[]> r =
        send(
            pullScope(repo),
            () -> request("/v2/" + repo + "/manifests/" + reference).header("Accept", ACCEPT).GET(),
            true);
    if (r.statusCode() != 200) {
      throw error(r, "GET manifest " + repo + ":" + reference);
    }
    byte[] body = r.body();
    String type = r.headers().firstValue("Content-Type").orElse("");
    if (type.isEmpty() || type.equals("application/json")) {
      type = JSON.readTree(body).path("mediaType").asText(OCI_MANIFEST);
    }
    return new Manifest(body, type.split(";")[0].trim(), Digest.of(body));
  }

  /** The manifest a tag or digest names; empty when the registry has none (404). */
  Optional<Manifest> findManifest(String repo, String reference, String scope) throws IOException {
    HttpResponse<byte[]> r =
        send(
            scope,
            () -> request("/v2/" + repo + "/manifests/" + reference).header("Accept", ACCEPT).GET(),
            true);
    if (r.statusCode() == 404) {
      return Optional.empty();
    }
    if (r.statusCode() != 200) {
      throw error(r, "GET manifest " + repo + ":" + reference);
    }
    byte[] body = r.body();
    String type = r.headers().firstValue("Content-Type").orElse("");
    if (type.isEmpty() || type.equals("application/json")) {
      type = JSON.readTree(body).path("mediaType").asText(OCI_MANIFEST);
    }
    return Optional.of(new Manifest(body, type.split(";")[0].trim(), Digest.of(body)));
  }

  /** A small blob (at most {@code max} bytes), checked against its digest. */
  byte[] smallBlob(String repo, Digest digest, int max) throws IOException {
    try (InputStream in = openBlob(repo, digest)) {
      byte[] b = in.readNBytes(max + 1);
      if (b.length > max) {
        throw new IOException(
            "blob " + digest + " of " + repo + " is larger than " + max + " bytes");
      }
      if (!Digest.of(b).equals(digest)) {
        throw new IOException("blob " + digest + " of " + repo + " does not match its digest");
      }
      return b;
    }
  }

  /** Makes the repository hold these bytes as a blob (skipped when it does). */
  void putBlob(String repo, byte[] bytes) throws IOException {
    Digest d = Digest.of(bytes);
    if (!hasBlob(repo, d, pushScope(repo))) {
      upload(repo, d, bytes.length, () -> new java.io.ByteArrayInputStream(bytes), null, n -> {});
    }
  }

  /**
   * The OCI 1.1 referrers of a manifest ({@code GET /v2/<name>/referrers/<digest>}), an image
   * index; empty when the registry has no referrers API (404, or an answer that is no index).
   */
  Optional<byte[]> referrers(String repo, Digest digest) throws IOException {
    HttpResponse<byte[]> r =
        send(
            pullScope(repo),
            () -> request("/v2/" + repo + "/referrers/" + digest).header("Accept", OCI_INDEX).GET(),
            true);
    String type = r.headers().firstValue("Content-Type").orElse("");
    if (r.statusCode() != 200 || !type.startsWith(OCI_INDEX)) {
      return Optional.empty();
    }
    return Optional.of(r.body());
  }

  /** Puts a manifest under {@code reference}; returns the digest the registry gives it. */
  Digest putManifest(String repo, String reference, byte[] manifest, String mediaType)
      throws IOException {
    HttpResponse<byte[]> r =
        send(
            pushScope(repo),
            () ->
                request("/v2/" + repo + "/manifests/" + reference)
                    .header("Content-Type", mediaType)
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(manifest)),
            true);
    if (r.statusCode() != 201 && r.statusCode() != 200) {
      throw error(r, "PUT manifest " + repo + ":" + reference);
    }
    return r.headers()
        .firstValue("Docker-Content-Digest")
        .map(Digest::parse)
        .orElse(Digest.of(manifest));
  }

  /**
   * Every tag of {@code repo}, page by page ({@code GET /v2/REPO/tags/list?n=…}, following the
   * registry's {@code Link} header); empty when the repository does not exist.
   */
  List<String> tags(String repo) throws IOException {
    return tags(repo, 1000);
  }

  /** Every tag of {@code repo}, asked for {@code pageSize} at a time. */
  List<String> tags(String repo, int pageSize) throws IOException {
    List<String> out = new ArrayList<>();
    String path = "/v2/" + repo + "/tags/list?n=" + pageSize;
    while (path != null) {
      String p = path;
      HttpResponse<byte[]> r = send(pullScope(repo), () -> request(p).GET(), true);
      if (r.statusCode() == 404) {
        return out;
      }
      if (r.statusCode() != 200) {
        throw error(r, "list the tags of " + repo);
      }
      for (JsonNode t : JSON.readTree(r.body()).path("tags")) {
        out.add(t.asText());
      }
      path =
          r.headers()
              .firstValue("Link")
              .map(l -> l.replaceAll("^\\s*<([^>]*)>.*$", "$1"))
              .filter(l -> l.startsWith("/v2/"))
              .orElse(null);
    }
    return out;
  }

  /**
   * Deletes the manifest {@code digest} of {@code repo} and every tag on it ({@code DELETE
   * /v2/REPO/manifests/DIGEST}); false when it was not there. A registry that does not allow
   * deletes answers 405 ({@code UNSUPPORTED}), thrown as a {@link RegistryException}.
   */
  boolean deleteManifest(String repo, Digest digest) throws IOException {
    HttpResponse<byte[]> r =
        send(
            "repository:" + repo + ":delete",
            () -> request("/v2/" + repo + "/manifests/" + digest).DELETE(),
            true);
    if (r.statusCode() == 404) {
      return false;
    }
    if (r.statusCode() != 202 && r.statusCode() != 200) {
      throw error(r, "delete manifest " + repo + "@" + digest);
    }
    return true;
  }

  // ---- requests, auth, retries ----

  private HttpRequest.Builder request(String path) {
    return requestTo(base.resolve(path));
  }

  private static HttpRequest.Builder requestTo(URI uri) {
    return HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(30)).header("User-Agent", "kiln");
  }

  private interface RequestFactory {
    HttpRequest.Builder build() throws IOException;
  }

  /**
   * Sends a request with the authorization for {@code scope}, answering one challenge; retries 5xx,
   * 429 and connection errors when {@code retry} (requests with a streamed body are retried by
   * their caller instead).
   */
  private HttpResponse<byte[]> send(String scope, RequestFactory factory, boolean retry)
      throws IOException {
    if (!retry) {
      return sendAuthorized(scope, factory, HttpResponse.BodyHandlers.ofByteArray());
    }
    return withRetries(
        () -> sendAuthorized(scope, factory, HttpResponse.BodyHandlers.ofByteArray()));
  }

  private HttpResponse<InputStream> sendStreaming(String scope, HttpRequest.Builder b)
      throws IOException {
    return withRetries(
        () -> sendAuthorized(scope, () -> b.copy(), HttpResponse.BodyHandlers.ofInputStream()));
  }

  private interface Exchange<T> {
    HttpResponse<T> send() throws IOException;
  }

  /**
   * Runs {@code exchange} up to {@code attempts} times with exponential backoff while it answers
   * 5xx or 429 or fails with a retryable connection error; the last answer or error is the result.
   */
  private <T> HttpResponse<T> withRetries(Exchange<T> exchange) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        HttpResponse<T> r = exchange.send();
        if (attempt < attempts && (r.statusCode() >= 500 || r.statusCode() == 429)) {
          log.info("{} {} answered {}; retrying", r.request().method(), r.uri(), r.statusCode());
          discard(r);
          sleep(attempt);
          continue;
        }
        return r;
      } catch (IOException e) {
        if (attempt >= attempts || !retryable(e)) {
          throw e;
        }
        log.info("request to {} failed ({}); retrying", registry, e.toString());
        sleep(attempt);
      }
    }
  }

  private <T> HttpResponse<T> sendAuthorized(
      String scope, RequestFactory factory, HttpResponse.BodyHandler<T> handler)
      throws IOException {
    HttpResponse<T> r = once(factory.build(), authFor(scope), handler);
    if (r.statusCode() != 401) {
      return r;
    }
    String challenge = r.headers().firstValue("WWW-Authenticate").orElse("");
    discard(r);
    String auth = authorize(scope, challenge);
    r = once(factory.build(), auth, handler);
    if (r.statusCode() == 401) {
      discard(r);
      throw new RegistryException(
          401,
          "UNAUTHORIZED",
          credentials == null
              ? "registry "
                  + registry
                  + " requires credentials: pass them with RegistryTarget.credentials(user, password) or run `docker login "
                  + registry
                  + "`"
              : "registry "
                  + registry
                  + " rejected the credentials of user '"
                  + credentials.user()
                  + "' (from "
                  + credentials.source()
                  + "): 401 Unauthorized");
    }
    return r;
  }

  private String authFor(String scope) {
    String a = authByScope.get(scope);
    return a != null ? a : basicAuth;
  }

  private static void discard(HttpResponse<?> r) {
    if (r.body() instanceof InputStream in) {
      try {
        in.close();
      } catch (IOException e) {
        // nothing to keep
      }
    }
  }

  private <T> HttpResponse<T> once(
      HttpRequest.Builder b, String auth, HttpResponse.BodyHandler<T> handler) throws IOException {
    if (auth != null) {
      b.setHeader("Authorization", auth);
    }
    try {
      return http.send(b.build(), handler);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while talking to " + registry);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** Answers a challenge: Basic with the credentials, or a Bearer token from the realm. */
  private String authorize(String scope, String challenge) throws IOException {
    String lower = challenge.toLowerCase(java.util.Locale.ROOT);
    if (lower.startsWith("basic")) {
      if (credentials == null) {
        throw new RegistryException(
            401,
            "UNAUTHORIZED",
            "registry "
                + registry
                + " requires credentials: pass them with RegistryTarget.credentials(user, password) or run `docker login "
                + registry
                + "`");
      }
      basicAuth = credentials.basic();
      return basicAuth;
    }
    if (!lower.startsWith("bearer")) {
      throw new RegistryException(
          401,
          "UNAUTHORIZED",
          "registry " + registry + " asks for unsupported authentication: " + challenge);
    }
    Map<String, String> params = challengeParams(challenge.substring("bearer".length()));
    String realm = params.get("realm");
    if (realm == null) {
      throw new RegistryException(
          401,
          "UNAUTHORIZED",
          "registry " + registry + " sent a Bearer challenge without a realm: " + challenge);
    }
    StringBuilder q = new StringBuilder();
    if (params.containsKey("service")) {
      q.append("service=").append(enc(params.get("service")));
    }
    List<String> scopes = new ArrayList<>(List.of(scope.split(" ")));
    String asked = params.get("scope");
    if (asked != null) {
      for (String s : asked.split(" ")) {
        if (!scopes.contains(s) && !covered(scopes, s)) {
          scopes.add(s);
        }
      }
    }
    for (String s : scopes) {
      q.append(q.length() > 0 ? "&" : "").append("scope=").append(enc(s));
    }
    URI tokenUri = URI.create(realm + (realm.contains("?") ? "&" : "?") + q);
    HttpRequest.Builder b = requestTo(tokenUri).GET();
    if (credentials != null) {
      b.header("Authorization", credentials.basic());
    }
    HttpResponse<byte[]> r = once(b, null, HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() == 401 || r.statusCode() == 403) {
      throw new RegistryException(
          r.statusCode(),
          "UNAUTHORIZED",
          credentials == null
              ? "the token service of "
                  + registry
                  + " ("
                  + realm
                  + ") refused anonymous access to "
                  + scope
                  + ": pass credentials"
              : "the token service of "
                  + registry
                  + " ("
                  + realm
                  + ") rejected the credentials of user '"
                  + credentials.user()
                  + "' (from "
                  + credentials.source()
                  + ")");
    }
    if (r.statusCode() != 200) {
      throw error(r, "get a token from " + realm);
    }
    JsonNode n = JSON.readTree(r.body());
    String token = n.path("token").asText(n.path("access_token").asText(""));
    if (token.isEmpty()) {
      throw new RegistryException(
          r.statusCode(), "", "the token service " + realm + " answered without a token");
    }
    String auth = "Bearer " + token;
    authByScope.put(scope, auth);
    return auth;
  }

  private static boolean covered(List<String> scopes, String s) {
    // "repository:x:pull" is covered by "repository:x:pull,push"
    int last = s.lastIndexOf(':');
    if (last < 0) {
      return false;
    }
    String resource = s.substring(0, last + 1);
    for (String have : scopes) {
      if (have.startsWith(resource)
          && List.of(have.substring(resource.length()).split(","))
              .containsAll(List.of(s.substring(last + 1).split(",")))) {
        return true;
      }
    }
    return false;
  }

  static Map<String, String> challengeParams(String s) {
    Map<String, String> m = new LinkedHashMap<>();
    Matcher matcher = CHALLENGE_PARAM.matcher(s);
    while (matcher.find()) {
      m.put(
          matcher.group(1).toLowerCase(java.util.Locale.ROOT),
          matcher.group(2) != null ? matcher.group(2) : matcher.group(3));
    }
    return m;
  }

  static boolean retryable(IOException e) {
    if (e instanceof RegistryException re) {
      return re.retryable();
    }
    return !(e instanceof InterruptedIOException)
        || e instanceof java.net.http.HttpTimeoutException;
  }

  private void sleep(int attempt) throws InterruptedIOException {
    long ms = Math.min(backoff.toMillis() << Math.min(attempt - 1, 10), 10_000);
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
  }

  private URI location(HttpResponse<?> r) throws IOException {
    String l =
        r.headers()
            .firstValue("Location")
            .orElseThrow(
                () ->
                    new IOException(
                        registry
                            + " answered "
                            + r.request().method()
                            + " "
                            + r.uri().getPath()
                            + " without a Location header"));
    return r.uri().resolve(l);
  }

  private static URI withQuery(URI uri, String param) {
    String s = uri.toString();
    return URI.create(s + (uri.getRawQuery() == null ? "?" : "&") + param);
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private RegistryException error(HttpResponse<byte[]> r, String what) {
    return error(r.statusCode(), r.headers(), r.body(), what);
  }

  private RegistryException error(int status, HttpHeaders headers, byte[] body, String what) {
    StringBuilder codes = new StringBuilder();
    StringBuilder msgs = new StringBuilder();
    try {
      if (body != null && body.length > 0) {
        for (JsonNode e : JSON.readTree(body).path("errors")) {
          codes.append(codes.length() > 0 ? "," : "").append(e.path("code").asText());
          msgs.append(msgs.length() > 0 ? "; " : "")
              .append(e.path("code").asText())
              .append(": ")
              .append(e.path("message").asText());
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // not the registry's JSON error form
    }
    String detail =
        msgs.length() > 0
            ? msgs.toString()
            : body == null || body.length == 0
                ? ""
                : new String(body, 0, Math.min(body.length, 300), StandardCharsets.UTF_8).strip();
    return new RegistryException(
        status,
        codes.toString(),
        "registry "
            + registry
            + " could not "
            + what
            + ": HTTP "
            + status
            + (detail.isEmpty() ? "" : " (" + detail + ")"));
  }

  /**
   * The bytes of one blob for the attempts of one upload: read from one open stream, range after
   * range, so a blob sent in chunks is read once. The stream is opened again (and read up to the
   * offset: store streams verify what they hash, so they must not skip) only when an attempt goes
   * back, after a failure. A range that ends the blob makes sure the stream ends there too (which
   * runs the store stream's digest check) before it hands out its last bytes. What the source
   * failed with is kept, so the upload fails with it rather than with the HTTP client's account.
   * Thread-safe: the HTTP client reads on its own threads.
   */
  private static final class BlobReader implements AutoCloseable {
    private final BlobSource source;
    private final long size;
    private InputStream in;
    private long position;
    private long generation;
    private IOException failure;

    BlobReader(BlobSource source, long size) {
      this.source = source;
      this.size = size;
    }

    /** A body of {@code len} bytes from {@code offset}, counting what is sent. */
    HttpRequest.BodyPublisher body(long offset, long len, AtomicLong sent, LongConsumer progress) {
      return HttpRequest.BodyPublishers.fromPublisher(
          HttpRequest.BodyPublishers.ofInputStream(
              () -> {
                try {
                  return new ProgressInputStream(range(offset, len), sent, progress);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              }),
          len);
    }

    /** Positions the stream at {@code offset}; earlier ranges stop reading. */
    synchronized InputStream range(long offset, long len) throws IOException {
      generation++;
      try {
        if (in == null || position > offset) {
          closeStream();
          in = source.open();
          position = 0;
        }
        byte[] buf = new byte[64 * 1024];
        while (position < offset) {
          int r = in.read(buf, 0, (int) Math.min(buf.length, offset - position));
          if (r < 0) {
            throw new IOException("the blob ended at byte " + position + " of its " + size);
          }
          position += r;
        }
      } catch (IOException | RuntimeException e) {
        throw failed(e);
      }
      return new Range(generation, len, offset + len == size);
    }

    /** Throws what the source failed with, if it did. */
    synchronized void rethrowFailure() throws IOException {
      if (failure != null) {
        throw failure;
      }
    }

    private IOException failed(Exception e) {
      IOException io = e instanceof IOException i ? i : new IOException(e.toString(), e);
      if (failure == null) {
        failure = io;
      }
      closeStream();
      return io;
    }

    private void closeStream() {
      if (in != null) {
        try {
          in.close();
        } catch (IOException e) {
          // read-only: nothing is lost
        }
        in = null;
      }
    }

    @Override
    public synchronized void close() {
      generation++;
      closeStream();
    }

    /** One range of the blob; closing it leaves the blob's stream open for the next. */
    private final class Range extends InputStream {
      private final long owner;
      private final boolean last;
      private long left;
      private boolean ended;

      Range(long owner, long left, boolean last) {
        this.owner = owner;
        this.left = left;
        this.last = last;
      }

      @Override
      public int read() throws IOException {
        byte[] b = new byte[1];
        int n = read(b, 0, 1);
        return n < 0 ? -1 : b[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        synchronized (BlobReader.this) {
          if (owner != generation || in == null) {
            throw new IOException("this part of the upload was given up");
          }
          if (len == 0) {
            return 0;
          }
          try {
            if (left == 0) {
              expectEnd();
              return -1;
            }
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n < 0) {
              throw new IOException(
                  "the blob ended at byte " + position + " of its " + size + " bytes");
            }
            position += n;
            left -= n;
            if (left == 0) {
              expectEnd();
            }
            return n;
          } catch (IOException | RuntimeException e) {
            throw failed(e);
          }
        }
      }

      /** At the blob's end, makes sure the stream ends there (and so runs its digest check). */
      private void expectEnd() throws IOException {
        if (!last || ended) {
          return;
        }
        ended = true;
        if (in.read() >= 0) {
          throw new IOException("the blob is longer than its size, " + size + " bytes");
        }
      }
    }
  }
}
