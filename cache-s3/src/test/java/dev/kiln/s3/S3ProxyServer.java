package dev.kiln.s3;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.util.Optional;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.jclouds.blobstore.domain.Blob;

/**
 * s3proxy on a free 127.0.0.1 port over jclouds' in-memory ("transient") blob store, checking SigV4
 * with the credentials the module's test environment sets ({@code AWS_ACCESS_KEY_ID=kiln-test}), or
 * with others ({@link #startSignedWith}). Stopped by {@link #close()}. Other modules' tests use it
 * through this module's test jar.
 */
public final class S3ProxyServer implements AutoCloseable {
  static final String ACCESS_KEY = "kiln-test";
  static final String SECRET_KEY = "kiln-test-secret";

  private final S3Proxy proxy;
  private final BlobStoreContext context;
  private final int port;

  private S3ProxyServer(S3Proxy proxy, BlobStoreContext context, int port) {
    this.proxy = proxy;
    this.context = context;
    this.port = port;
  }

  /** Starts a server holding the empty buckets {@code buckets}, for the module's credentials. */
  public static S3ProxyServer start(String... buckets) throws Exception {
    return startSignedWith(ACCESS_KEY, SECRET_KEY, buckets);
  }

  /**
   * Starts a server holding the empty buckets {@code buckets} that accepts only requests signed
   * with {@code accessKey} and {@code secretKey}.
   */
  public static S3ProxyServer startSignedWith(String accessKey, String secretKey, String... buckets)
      throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    BlobStoreContext context =
        ContextBuilder.newBuilder("transient")
            .credentials("identity", "credential")
            .overrides(new Properties())
            .build(BlobStoreContext.class);
    for (String b : buckets) {
      context.getBlobStore().createContainerInLocation(null, b);
    }
    S3Proxy proxy =
        S3Proxy.builder()
            .blobStore(context.getBlobStore())
            .endpoint(URI.create("http://127.0.0.1:" + port))
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, accessKey, secretKey)
            .build();
    proxy.start();
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!proxy.getState().equals("STARTED")) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("s3proxy did not start: " + proxy.getState());
      }
      Thread.sleep(20);
    }
    return new S3ProxyServer(proxy, context, port);
  }

  /** {@code http://127.0.0.1:PORT}. */
  public String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  /** The cache URI of a bucket and prefix on this server. */
  public String uri(String bucket, String prefix) {
    return "s3://"
        + bucket
        + "/"
        + prefix
        + "?endpoint="
        + endpoint()
        + "&region=us-east-1&pathStyle=true";
  }

  /** The bytes of an object, if there is one. */
  public Optional<byte[]> object(String bucket, String key) throws IOException {
    Blob b = context.getBlobStore().getBlob(bucket, key);
    if (b == null) {
      return Optional.empty();
    }
    try (var in = b.getPayload().openStream()) {
      return Optional.of(in.readAllBytes());
    }
  }

  /** The content type an object was put with, or null when there is no such object. */
  public String contentType(String bucket, String key) {
    Blob b = context.getBlobStore().getBlob(bucket, key);
    return b == null ? null : b.getMetadata().getContentMetadata().getContentType();
  }

  @Override
  public void close() throws Exception {
    try {
      proxy.stop();
    } finally {
      context.close();
    }
  }
}
