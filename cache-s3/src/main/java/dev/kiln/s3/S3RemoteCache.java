package dev.kiln.s3;

import dev.kiln.Digest;
import dev.kiln.RetentionReport;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RetentionPlan;
import java.io.FileNotFoundException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.MetadataDirective;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * {@code s3://BUCKET/PREFIX}: a remote cache in an S3 bucket, or in any S3-compatible store through
 * {@code ?endpoint=URL&pathStyle=true}. Layout under the prefix:
 *
 * <ul>
 *   <li>{@code blobs/sha256/HEX}: blobs by digest. A PutObject of content-addressed bytes is
 *       idempotent, so racing writers of one blob write the same object.
 *   <li>{@code NAMESPACE/KEY.json}: one object per entry ({@code keys/HEX.json} for layers, {@code
 *       disks/…}, {@code ec2-snapshots/…}), written with one PutObject after its blob. S3 replaces
 *       an object atomically: a reader sees the old entry or the new one, never a mixture, and
 *       there is no shared index to read-modify-write.
 * </ul>
 *
 * Credentials and (without {@code ?region=}) the region come from the SDK's default chains
 * (environment, profile, instance or container role, web identity). Needs {@code s3:GetObject},
 * {@code s3:PutObject} on {@code arn:aws:s3:::BUCKET/PREFIX/*} and {@code s3:ListBucket} on the
 * bucket (without it S3 answers a missing object with 403, which reads as an unavailable remote).
 * Retention also needs {@code s3:DeleteObject}. Thread-safe.
 *
 * <p>An entry's last use is its metadata {@code kiln-used} (an ISO instant), else its Last-Modified
 * time (when it was written). A lookup's GET already returns both, so {@link #touch} writes only
 * when the recorded use is a day or more old: one CopyObject of the entry onto itself with the new
 * metadata (a PUT-priced request of a few hundred bytes, conditional on the ETag just read, so it
 * never copies over an entry written since). {@link #retain} lists the prefix (one LIST per 1000
 * objects), reads each entry's metadata (one HEAD each), deletes the entries that go, then the
 * blobs no remaining entry names, and blobs named by no entry at all that were uploaded more than a
 * day ago (left by entries deleted otherwise; a push in progress uploads its blob just before its
 * entry).
 */
final class S3RemoteCache implements RemoteCache {
  private final String bucket;
  private final String prefix;
  private final String described;
  private final S3Client s3;

  static final String USED = "kiln-used";
  static final String BLOB = "kiln-blob";
  private static final Duration ORPHAN_AGE = Duration.ofDays(1);
  private static final Pattern ENTRY_PATH =
      Pattern.compile("([a-z0-9][a-z0-9-]{0,23})/([a-z0-9][a-z0-9._-]{0,89})\\.json");
  private static final Pattern BLOB_PATH = Pattern.compile("blobs/sha256/([0-9a-f]{64})");
  private static final int SEEN_LIMIT = 10_000;

  /** What the last GET of an entry returned about it, by path: what {@link #touch} needs. */
  private record Seen(Instant lastModified, Map<String, String> metadata, String eTag) {}

  private final Map<String, Seen> seen = new ConcurrentHashMap<>();

  private S3RemoteCache(String bucket, String prefix, String described, S3Client s3) {
    this.bucket = bucket;
    this.prefix = prefix;
    this.described = described;
    this.s3 = s3;
  }

  /**
   * A cache for {@code s3://BUCKET[/PREFIX][?region=R&endpoint=URL&pathStyle=true]}. Does not
   * contact the store.
   *
   * @throws IllegalArgumentException when the URI is malformed or has an unknown option
   */
  public static S3RemoteCache of(URI uri) {
    String s = uri.toString();
    if (!"s3".equals(uri.getScheme()) || uri.getHost() == null || uri.getHost().isEmpty()) {
      throw new IllegalArgumentException(
          "remote cache '"
              + s
              + "': expected s3://BUCKET/PREFIX[?region=R&endpoint=URL&pathStyle=true]");
    }
    String bucket = uri.getHost();
    String prefix = uri.getPath() == null ? "" : uri.getPath().replaceAll("^/+|/+$", "");
    Map<String, String> params = params(uri.getRawQuery());
    for (String k : params.keySet()) {
      if (!k.equals("region") && !k.equals("endpoint") && !k.equals("pathStyle")) {
        throw new IllegalArgumentException(
            "remote cache '"
                + s
                + "': unknown option '"
                + k
                + "' (known: region, endpoint, pathStyle)");
      }
    }
    var b =
        S3Client.builder()
            .credentialsProvider(DefaultCredentialsProvider.builder().build())
            .httpClientBuilder(
                ApacheHttpClient.builder()
                    .connectionTimeout(Duration.ofSeconds(10))
                    .socketTimeout(Duration.ofSeconds(60))
                    .maxConnections(32))
            // S3-compatible stores (and s3proxy) do not all take the SDK's default CRC32 trailers;
            // Kiln checks every
            // blob against its SHA-256 digest itself, so checksums are sent only where S3 requires
            // them
            .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
            .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
            .forcePathStyle("true".equals(params.get("pathStyle")));
    String region = params.get("region");
    if (region != null) {
      b.region(Region.of(region));
    } else {
      try {
        b.region(DefaultAwsRegionProviderChain.builder().build().getRegion());
      } catch (SdkException e) {
        b.region(
            Region.US_EAST_1); // S3 answers any region's bucket with a redirect the SDK follows
      }
    }
    String endpoint = params.get("endpoint");
    if (endpoint != null) {
      try {
        b.endpointOverride(URI.create(endpoint));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "remote cache '" + s + "': endpoint '" + endpoint + "' is not a URL", e);
      }
    }
    String described =
        "s3://"
            + bucket
            + (prefix.isEmpty() ? "" : "/" + prefix)
            + (endpoint != null ? " at " + endpoint : "");
    return new S3RemoteCache(bucket, prefix, described, b.build());
  }

  private static Map<String, String> params(String query) {
    Map<String, String> m = new TreeMap<>();
    if (query != null) {
      for (String kv : query.split("&")) {
        if (!kv.isEmpty()) {
          int eq = kv.indexOf('=');
          String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
          m.put(
              k, eq < 0 ? "true" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
        }
      }
    }
    return m;
  }

  private String object(String relative) {
    return prefix.isEmpty() ? relative : prefix + "/" + relative;
  }

  static String blobPath(Digest d) {
    return "blobs/sha256/" + d.hex();
  }

  static String entryPath(String namespace, String key) {
    RemoteCache.checkEntryName(namespace, key);
    return namespace + "/" + key + ".json";
  }

  @Override
  public String describe() {
    return described;
  }

  @Override
  public boolean hasBlob(Digest digest) throws IOException {
    try {
      s3.headObject(
          HeadObjectRequest.builder().bucket(bucket).key(object(blobPath(digest))).build());
      return true;
    } catch (S3Exception e) {
      if (missing(e)) {
        return false;
      }
      throw io("HEAD " + blobPath(digest), e);
    } catch (SdkException e) {
      throw io("HEAD " + blobPath(digest), e);
    }
  }

  @Override
  public void fetchBlob(Digest digest, Path dest, LongConsumer progress) throws IOException {
    try (ResponseInputStream<GetObjectResponse> in =
            s3.getObject(r -> r.bucket(bucket).key(object(blobPath(digest))));
        OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW)) {
      byte[] buf = new byte[1 << 16];
      long done = 0;
      for (int n; (n = in.read(buf)) > 0; ) {
        out.write(buf, 0, n);
        done += n;
        progress.accept(done);
      }
    } catch (S3Exception e) {
      if (missing(e)) {
        throw new FileNotFoundException("blob " + digest + " is not in " + described);
      }
      throw io("GET " + blobPath(digest), e);
    } catch (SdkException e) {
      throw io("GET " + blobPath(digest), e);
    }
  }

  @Override
  public long pushBlob(Digest digest, long size, String mediaType, Path file, LongConsumer progress)
      throws IOException {
    if (hasBlob(digest)) {
      return 0;
    }
    long[] sent = {0};
    try {
      s3.putObject(
          PutObjectRequest.builder()
              .bucket(bucket)
              .key(object(blobPath(digest)))
              .contentType(mediaType)
              .contentLength(size)
              .build(),
          RequestBody.fromContentProvider(
              () -> {
                sent[0] = 0;
                try {
                  return new Counting(
                      Files.newInputStream(file), n -> progress.accept(sent[0] += n));
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              },
              size,
              mediaType));
      return size;
    } catch (SdkException e) {
      throw io("PUT " + blobPath(digest), e);
    }
  }

  @Override
  public Optional<byte[]> getEntry(String namespace, String key) throws IOException {
    String path = entryPath(namespace, key);
    try {
      var got = s3.getObjectAsBytes(r -> r.bucket(bucket).key(object(path)));
      GetObjectResponse r = got.response();
      if (seen.size() >= SEEN_LIMIT) {
        seen.clear();
      }
      if (r.lastModified() != null && r.eTag() != null) {
        seen.put(path, new Seen(r.lastModified(), r.metadata(), r.eTag()));
      }
      return Optional.of(got.asByteArray());
    } catch (S3Exception e) {
      if (missing(e)) {
        return Optional.empty();
      }
      throw io("GET " + path, e);
    } catch (SdkException e) {
      throw io("GET " + path, e);
    }
  }

  @Override
  public void putEntry(String namespace, String key, byte[] json, Optional<BlobRef> blob)
      throws IOException {
    String path = entryPath(namespace, key);
    try {
      PutObjectRequest.Builder r =
          PutObjectRequest.builder()
              .bucket(bucket)
              .key(object(path))
              .contentType("application/json");
      blob.ifPresent(b -> r.metadata(Map.of(BLOB, b.digest().toString())));
      s3.putObject(r.build(), RequestBody.fromBytes(json));
      seen.remove(path);
    } catch (SdkException e) {
      throw io("PUT " + path, e);
    }
  }

  @Override
  public void touch(String namespace, String key, Instant at) throws IOException {
    String path = entryPath(namespace, key);
    Seen was = seen.remove(path);
    try {
      if (was == null) {
        HeadObjectResponse h;
        try {
          h = s3.headObject(r -> r.bucket(bucket).key(object(path)));
        } catch (S3Exception e) {
          if (missing(e)) {
            return;
          }
          throw e;
        }
        was = new Seen(h.lastModified(), h.metadata(), h.eTag());
      }
      Instant when = at.truncatedTo(ChronoUnit.SECONDS);
      Instant used = lastUsed(was.metadata(), was.lastModified());
      if (!when.isBefore(used) && Duration.between(used, when).compareTo(Duration.ofDays(1)) < 0) {
        return;
      }
      Map<String, String> metadata = new TreeMap<>(was.metadata());
      metadata.put(USED, when.toString());
      String etag = was.eTag();
      s3.copyObject(
          r ->
              r.sourceBucket(bucket)
                  .sourceKey(object(path))
                  .destinationBucket(bucket)
                  .destinationKey(object(path))
                  .copySourceIfMatch(etag)
                  .metadataDirective(MetadataDirective.REPLACE)
                  .metadata(metadata)
                  .contentType("application/json"));
    } catch (S3Exception e) {
      if (missing(e) || e.statusCode() == 412) {
        return; // deleted, or written again since it was read: a newer write is a newer use
      }
      throw io("touch " + path, e);
    } catch (SdkException e) {
      throw io("touch " + path, e);
    }
  }

  /** The recorded last use: the {@value #USED} metadata, else when the entry was written. */
  private static Instant lastUsed(Map<String, String> metadata, Instant lastModified) {
    String u = metadata.get(USED);
    if (u != null) {
      try {
        return Instant.parse(u);
      } catch (DateTimeParseException e) {
        // written by someone else: the write time stands
      }
    }
    return lastModified;
  }

  @Override
  public RetentionReport retain(Retention policy) throws IOException {
    long start = System.nanoTime();
    Instant now = Instant.now();
    String root = prefix.isEmpty() ? "" : prefix + "/";
    Map<Digest, long[]> blobs = new HashMap<>(); // size, last modified (epoch ms)
    List<String> entryPaths = new ArrayList<>();
    try {
      for (var o : s3.listObjectsV2Paginator(r -> r.bucket(bucket).prefix(root)).contents()) {
        String rel = o.key().substring(root.length());
        Matcher b = BLOB_PATH.matcher(rel);
        if (b.matches()) {
          blobs.put(
              Digest.parse("sha256:" + b.group(1)),
              new long[] {o.size(), o.lastModified().toEpochMilli()});
        } else if (ENTRY_PATH.matcher(rel).matches() && !rel.startsWith("blobs/")) {
          entryPaths.add(rel);
        }
      }
      List<Optional<HeadObjectResponse>> heads = headAll(entryPaths);
      List<RetentionPlan.Entry> entries = new ArrayList<>();
      Set<Digest> named = new HashSet<>();
      for (int i = 0; i < entryPaths.size(); i++) {
        if (heads.get(i).isEmpty()) {
          continue; // deleted since it was listed
        }
        HeadObjectResponse h = heads.get(i).get();
        Matcher m = ENTRY_PATH.matcher(entryPaths.get(i));
        m.matches();
        Optional<Digest> blob = Optional.empty();
        try {
          String d = h.metadata().get(BLOB);
          blob = d == null ? Optional.empty() : Optional.of(Digest.parse(d));
        } catch (RuntimeException e) {
          // not a digest: the entry names no blob this backend knows
        }
        blob.ifPresent(named::add);
        long bytes = blob.map(d -> blobs.containsKey(d) ? blobs.get(d)[0] : 0L).orElse(0L);
        entries.add(
            new RetentionPlan.Entry(
                m.group(1),
                m.group(2),
                blob,
                bytes,
                Optional.of(lastUsed(h.metadata(), h.lastModified()))));
      }
      List<RetentionPlan.Decision> decisions = RetentionPlan.decide(entries, policy, now);
      List<RetentionPlan.Decision> done = new ArrayList<>();
      String refused = null;
      for (RetentionPlan.Decision d : decisions) {
        if (!d.remove() || policy.dryRun()) {
          done.add(d);
        } else if (refused != null) {
          done.add(d.keptBecause(refused));
        } else {
          String rel = entryPath(d.entry().namespace(), d.entry().key());
          try {
            s3.deleteObject(r -> r.bucket(bucket).key(object(rel)));
            done.add(d);
          } catch (S3Exception e) {
            refused =
                "kept: deleting entries failed ("
                    + e.statusCode()
                    + " "
                    + (e.awsErrorDetails() == null ? "" : e.awsErrorDetails().errorCode())
                    + "; retention needs s3:DeleteObject on "
                    + root
                    + "*): "
                    + e.getMessage();
            done.add(d.keptBecause(refused));
          }
        }
      }
      Map<Digest, String> goes = new LinkedHashMap<>();
      for (Digest b : RetentionPlan.blobsFreed(done)) {
        goes.put(b, "named only by entries that went");
      }
      Instant orphanCutoff = now.minus(ORPHAN_AGE);
      blobs.entrySet().stream()
          .filter(e -> !named.contains(e.getKey()))
          .filter(e -> Instant.ofEpochMilli(e.getValue()[1]).isBefore(orphanCutoff))
          .map(Map.Entry::getKey)
          .sorted(java.util.Comparator.comparing(Digest::toString))
          .forEach(b -> goes.put(b, "named by no entry, uploaded more than a day ago"));
      List<RetentionReport.Item> removed = new ArrayList<>();
      List<RetentionReport.Item> kept = new ArrayList<>();
      long freed = 0;
      for (Map.Entry<Digest, String> g : goes.entrySet()) {
        long size = blobs.containsKey(g.getKey()) ? blobs.get(g.getKey())[0] : 0;
        if (refused != null && !policy.dryRun()) {
          kept.add(
              new RetentionReport.Item(RetentionPlan.BLOB, g.getKey().toString(), size, refused));
          continue;
        }
        if (!policy.dryRun()) {
          String rel = blobPath(g.getKey());
          try {
            s3.deleteObject(r -> r.bucket(bucket).key(object(rel)));
          } catch (S3Exception e) {
            refused = "kept: deleting blobs failed: " + e.getMessage();
            kept.add(
                new RetentionReport.Item(RetentionPlan.BLOB, g.getKey().toString(), size, refused));
            continue;
          }
        }
        freed += size;
        removed.add(
            new RetentionReport.Item(
                RetentionPlan.BLOB, g.getKey().toString(), size, g.getValue()));
      }
      return RetentionPlan.report(describe(), policy.dryRun(), done, removed, kept, freed, start);
    } catch (SdkException e) {
      throw io("retention", e);
    }
  }

  /**
   * The HEAD of every entry, in order, 16 at a time (empty where it is gone): one request each,
   * since a listing carries no metadata.
   */
  private List<Optional<HeadObjectResponse>> headAll(List<String> paths) throws IOException {
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.max(1, Math.min(16, paths.size())),
            r -> {
              Thread t = new Thread(r, "kiln-s3-retention");
              t.setDaemon(true);
              return t;
            });
    try {
      List<Future<Optional<HeadObjectResponse>>> futures = new ArrayList<>();
      for (String rel : paths) {
        futures.add(
            pool.submit(
                () -> {
                  try {
                    return Optional.of(s3.headObject(r -> r.bucket(bucket).key(object(rel))));
                  } catch (S3Exception e) {
                    if (missing(e)) {
                      return Optional.<HeadObjectResponse>empty();
                    }
                    throw e;
                  }
                }));
      }
      List<Optional<HeadObjectResponse>> out = new ArrayList<>();
      for (Future<Optional<HeadObjectResponse>> f : futures) {
        try {
          out.add(f.get());
        } catch (ExecutionException e) {
          if (e.getCause() instanceof SdkException sdk) {
            throw io("HEAD entries", sdk);
          }
          throw new IOException(described + ": HEAD entries failed: " + e.getCause(), e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("interrupted while reading entries");
        }
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  @Override
  public void close() {
    s3.close();
  }

  /**
   * 404 (NoSuchKey). A 403 is not taken as "missing": without s3:ListBucket S3 answers 403 for a
   * missing object, but 403 also means wrong credentials, which must show as an unavailable remote,
   * not as endless misses.
   */
  private static boolean missing(S3Exception e) {
    return e instanceof NoSuchKeyException || e.statusCode() == 404;
  }

  private IOException io(String what, SdkException e) {
    return new IOException(described + ": " + what + " failed: " + e.getMessage(), e);
  }

  /** Counts what the SDK reads of a blob, for progress events. */
  private static final class Counting extends FilterInputStream {
    private final LongConsumer read;

    Counting(InputStream in, LongConsumer read) {
      super(in);
      this.read = read;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        read.accept(1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        read.accept(n);
      }
      return n;
    }
  }
}
