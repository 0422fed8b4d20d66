package dev.kiln.ec2;

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
 * s3proxy on a free 127.0.0.1 port over jclouds' in-memory blob store, checking SigV4 with {@link
 * LoopbackAws}'s test credentials, so that an {@code ec2://} target's S3 calls (its attestations
 * location) are signed as its EC2 calls are. Stopped by {@link #close()}.
 */
public final class AttestationsS3 implements AutoCloseable {
  private final S3Proxy proxy;
  private final BlobStoreContext context;
  private final int port;

  private AttestationsS3(S3Proxy proxy, BlobStoreContext context, int port) {
    this.proxy = proxy;
    this.context = context;
    this.port = port;
  }

  /** Starts a server holding the empty buckets {@code buckets}. */
  public static AttestationsS3 start(String... buckets) throws Exception {
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
            .awsAuthentication(
                AuthenticationType.AWS_V2_OR_V4, LoopbackAws.ACCESS_KEY, LoopbackAws.SECRET_KEY)
            .build();
    proxy.start();
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!proxy.getState().equals("STARTED")) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("s3proxy did not start: " + proxy.getState());
      }
      Thread.sleep(20);
    }
    return new AttestationsS3(proxy, context, port);
  }

  /** {@code http://127.0.0.1:PORT}. */
  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + port);
  }

  /** The bytes of an object, if there is one. */
  public Optional<byte[]> object(String bucket, String key) throws Exception {
    Blob b = context.getBlobStore().getBlob(bucket, key);
    if (b == null) {
      return Optional.empty();
    }
    try (var in = b.getPayload().openStream()) {
      return Optional.of(in.readAllBytes());
    }
  }

  /** The content type an object was put with. */
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
