package dev.kiln.s3;

import dev.kiln.Digest;
import dev.kiln.spi.RemoteCache;
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
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.LongConsumer;
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
 * Thread-safe.
 */
final class S3RemoteCache implements RemoteCache {
  private final String bucket;
  private final String prefix;
  private final String described;
  private final S3Client s3;

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
      return Optional.of(
          s3.getObjectAsBytes(r -> r.bucket(bucket).key(object(path))).asByteArray());
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
      blob.ifPresent(b -> r.metadata(Map.of("kiln-blob", b.digest().toString())));
      s3.putObject(r.build(), RequestBody.fromBytes(json));
    } catch (SdkException e) {
      throw io("PUT " + path, e);
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
