package dev.kiln.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Kiln;
import dev.kiln.spi.RemoteCache;
import dev.kiln.testing.RemoteCacheContract;
import dev.kiln.testing.RemoteCacheFleetContract;
import dev.kiln.testing.RemoteCacheRetentionContract;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.services.s3.S3Client;

/** The {@code s3://} remote cache against s3proxy on loopback. */
class S3RemoteCacheIT {
  private static final AtomicInteger PREFIXES = new AtomicInteger();
  static S3ProxyServer server;

  @BeforeAll
  static void start() throws Exception {
    server = S3ProxyServer.start("kiln-cache");
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  static String freshUri() {
    return server.uri("kiln-cache", "fleet/c" + PREFIXES.incrementAndGet());
  }

  @Nested
  class Contract extends RemoteCacheContract {
    @Override
    protected RemoteCache cache() {
      return S3RemoteCache.of(URI.create(freshUri()));
    }
  }

  @Nested
  class Fleet extends RemoteCacheFleetContract {
    private S3ProxyServer own;

    @Override
    protected String freshRemote() {
      return freshUri();
    }

    @Override
    protected String remoteAt(int port) {
      return "s3://kiln-cache/silent?endpoint=http://127.0.0.1:"
          + port
          + "&region=us-east-1&pathStyle=true";
    }

    @Override
    protected String stoppableRemote() throws Exception {
      own = S3ProxyServer.start("own");
      return own.uri("own", "cache");
    }

    @Override
    protected void stopServer() throws Exception {
      own.close();
    }

    @AfterEach
    void closeOwn() throws Exception {
      if (own != null) {
        own.close();
      }
    }
  }

  @Nested
  class Retention extends RemoteCacheRetentionContract {
    @Override
    protected String freshRemote() {
      return freshUri();
    }

    @Override
    protected boolean blobsGoWithEntries() {
      return true;
    }
  }

  @Test
  void entriesAreOneObjectPerKeyUnderThePrefix() throws Exception {
    String uri = freshUri();
    String prefix = URI.create(uri).getPath().substring(1);
    try (S3RemoteCache c = S3RemoteCache.of(URI.create(uri))) {
      String key = "d".repeat(64);
      c.putEntry("keys", key, "{\"x\":1}".getBytes(StandardCharsets.UTF_8), Optional.empty());
      assertThat(c.describe()).isEqualTo("s3://kiln-cache/" + prefix + " at " + server.endpoint());
    }
    // a plain SDK client reads the object where the layout says it is (its default checksum mode,
    // which s3proxy
    // answers with 501, is what S3RemoteCache turns off)
    try (S3Client s3 =
        S3Client.builder()
            .endpointOverride(URI.create(server.endpoint()))
            .forcePathStyle(true)
            .responseChecksumValidation(
                software.amazon.awssdk.core.checksums.ResponseChecksumValidation.WHEN_REQUIRED)
            .requestChecksumCalculation(
                software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
            .region(software.amazon.awssdk.regions.Region.US_EAST_1)
            .build()) {
      byte[] got =
          s3.getObject(
                  r -> r.bucket("kiln-cache").key(prefix + "/keys/" + "d".repeat(64) + ".json"),
                  ResponseTransformer.toBytes())
              .asByteArray();
      assertThat(new String(got, StandardCharsets.UTF_8)).isEqualTo("{\"x\":1}");
    }
  }

  @Test
  void theSchemeIsFoundAndBadUrisAreRejected() {
    assertThat(Kiln.builder().remoteCache(freshUri())).isNotNull();
    assertThatThrownBy(() -> S3RemoteCache.of(URI.create("s3:///nobucket")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected s3://BUCKET/PREFIX");
    assertThatThrownBy(() -> S3RemoteCache.of(URI.create("s3://b/p?colour=red")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown option 'colour'");
  }
}
