package dev.kiln.ec2;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ec2.Ec2Client;

/**
 * The SDK clients one {@link Ec2Target} needs: EBS direct and EC2 in the target's region, and EC2 in each copy
 * region, sharing one pooled HTTP client. Credentials come from the target or the SDK's default chain; the region
 * from the target or the SDK's default region chain; endpoints from the target's overrides.
 *
 * <p>The SDK's own retries are off: every call goes through a {@link RetryPolicy}.
 *
 * <p>Thread-safe. Close it to release the connection pool.
 */
public final class Ec2Clients implements AutoCloseable {
  private final Ec2Target target;
  private final Region region;
  private final AwsCredentialsProvider credentials;
  private final boolean ownsCredentials;
  private final SdkHttpClient http;
  private final EbsClient ebs;
  private final Map<String, Ec2Client> ec2 = new ConcurrentHashMap<>();

  private Ec2Clients(Ec2Target target, int maxConnections) {
    this.target = target;
    this.region =
        target.region().map(Region::of).orElseGet(() -> new DefaultAwsRegionProviderChain().getRegion());
    if (target.credentials().isPresent()) {
      this.credentials = target.credentials().get();
      this.ownsCredentials = false;
    } else {
      this.credentials = DefaultCredentialsProvider.builder().build();
      this.ownsCredentials = true;
    }
    this.http =
        ApacheHttpClient.builder()
            .maxConnections(maxConnections)
            .connectionTimeout(Duration.ofSeconds(10))
            .socketTimeout(Duration.ofSeconds(60))
            .connectionAcquisitionTimeout(Duration.ofMinutes(2))
            .tcpKeepAlive(true)
            .build();
    var builder =
        EbsClient.builder()
            .region(region)
            .credentialsProvider(credentials)
            .httpClient(http)
            .overrideConfiguration(noSdkRetries());
    target.ebsEndpoint().ifPresent(builder::endpointOverride);
    this.ebs = builder.build();
  }

  /** Clients for {@code target}, with a connection pool sized for {@link EbsSnapshotUploader#DEFAULT_CONCURRENCY}. */
  public static Ec2Clients create(Ec2Target target) {
    return create(target, EbsSnapshotUploader.DEFAULT_CONCURRENCY + 8);
  }

  /**
   * Clients for {@code target} with at most {@code maxConnections} pooled connections (make it at least the upload
   * concurrency).
   */
  public static Ec2Clients create(Ec2Target target, int maxConnections) {
    if (maxConnections < 1) {
      throw new IllegalArgumentException("maxConnections must be at least 1, found " + maxConnections);
    }
    return new Ec2Clients(target, maxConnections);
  }

  /** The target these clients were made for. */
  public Ec2Target target() {
    return target;
  }

  /** The resolved region id (from the target, or the SDK's default region chain). */
  public String region() {
    return region.id();
  }

  /** The EBS direct APIs client in the target region. */
  public EbsClient ebs() {
    return ebs;
  }

  /** The EC2 client in the target region. */
  public Ec2Client ec2() {
    return ec2(region.id());
  }

  /**
   * The EC2 client in {@code regionId} (for copies). With an endpoint override, every region's calls go to that
   * endpoint, signed for their own region.
   */
  public Ec2Client ec2(String regionId) {
    return ec2.computeIfAbsent(
        regionId,
        r -> {
          var b =
              Ec2Client.builder()
                  .region(Region.of(r))
                  .credentialsProvider(credentials)
                  .httpClient(http)
                  .overrideConfiguration(noSdkRetries());
          target.ec2Endpoint().ifPresent(b::endpointOverride);
          return b.build();
        });
  }

  private static ClientOverrideConfiguration noSdkRetries() {
    return ClientOverrideConfiguration.builder()
        .retryStrategy(AwsRetryStrategy.doNotRetry())
        .apiCallAttemptTimeout(Duration.ofMinutes(2))
        .build();
  }

  @Override
  public void close() {
    ebs.close();
    ec2.values().forEach(Ec2Client::close);
    http.close();
    if (ownsCredentials && credentials instanceof AutoCloseable) {
      try {
        ((AutoCloseable) credentials).close();
      } catch (Exception e) {
        // closing a credentials cache never matters for correctness
      }
    }
  }
}
