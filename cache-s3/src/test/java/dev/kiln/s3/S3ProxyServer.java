package dev.kiln.s3;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * s3proxy on a free 127.0.0.1 port over jclouds' in-memory ("transient") blob store, checking SigV4
 * with the credentials the module's test environment sets ({@code AWS_ACCESS_KEY_ID=kiln-test}).
 * Stopped by {@link #close()}.
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

  public static S3ProxyServer start(String... buckets) throws Exception {
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
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
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

  @Override
  public void close() throws Exception {
    try {
      proxy.stop();
    } finally {
      context.close();
    }
  }
}
