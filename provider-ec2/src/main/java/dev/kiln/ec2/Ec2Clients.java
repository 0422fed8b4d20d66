package dev.kiln.ec2;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttribute;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.retries.api.RetryStrategy;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The SDK clients one {@link Ec2Target} needs: EBS direct and EC2 in the target's region, and EC2
 * in each copy region, sharing one pooled HTTP client. Credentials come from the target or the
 * SDK's default chain; the region from the target or the SDK's default region chain; endpoints from
 * the target's overrides.
 *
 * <p>Calls are retried by the SDK's standard retry strategy ({@link RetryMode#STANDARD}: 5xx
 * answers, throttling, broken connections, with exponential backoff and jitter, and a circuit
 * breaker), with {@value #MAX_ATTEMPTS} attempts per call and EBS's {@code
 * ConcurrentLimitExceededException} counted as throttling. Kiln adds only what the SDK cannot know:
 * the recovery of idempotent calls whose answer was lost (client tokens), in the uploader and the
 * registrar.
 *
 * <p>Thread-safe. Close it to release the connection pool.
 */
public final class Ec2Clients implements AutoCloseable {
  /**
   * Attempts per call, the first included: with the SDK's backoff (up to 20 s) about a minute of
   * throttling.
   */
  static final int MAX_ATTEMPTS = 8;

  /**
   * Set on a request, counts the attempts the SDK repeated for it ({@link #countRetries}); read by
   * the uploader for its figures and to tell whether a StartSnapshot or CompleteSnapshot may have
   * reached EBS before its answer was lost.
   */
  static final ExecutionAttribute<LongAdder> RETRIES = new ExecutionAttribute<>("kiln.retries");

  private static final ExecutionAttribute<AtomicInteger> ATTEMPTS =
      new ExecutionAttribute<>("kiln.attempts");
  private static final Logger log = LoggerFactory.getLogger(Ec2Clients.class);

  private final Ec2Target target;
  private final Region region;
  private final AwsCredentialsProvider credentials;
  private final boolean ownsCredentials;
  private final SdkHttpClient http;
  private final EbsClient ebs;
  private final Map<String, Ec2Client> ec2 = new ConcurrentHashMap<>();

  private final ClientOverrideConfiguration overrides;
  private S3Client s3;

  private Ec2Clients(Ec2Target target, int maxConnections, RetryStrategy retry) {
    this.target = target;
    this.region =
        target
            .region()
            .map(Region::of)
            .orElseGet(() -> new DefaultAwsRegionProviderChain().getRegion());
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
    this.overrides =
        ClientOverrideConfiguration.builder()
            .retryStrategy(retry)
            .addExecutionInterceptor(new RetryCounter())
            .apiCallAttemptTimeout(Duration.ofMinutes(2))
            .build();
    var builder =
        EbsClient.builder()
            .region(region)
            .credentialsProvider(credentials)
            .httpClient(http)
            .overrideConfiguration(overrides);
    target.ebsEndpoint().ifPresent(builder::endpointOverride);
    this.ebs = builder.build();
  }

  /**
   * Clients for {@code target}, with a connection pool sized for {@link
   * EbsSnapshotUploader#DEFAULT_CONCURRENCY}.
   */
  public static Ec2Clients create(Ec2Target target) {
    return create(target, EbsSnapshotUploader.DEFAULT_CONCURRENCY + 8);
  }

  /**
   * Clients for {@code target} with at most {@code maxConnections} pooled connections (make it at
   * least the upload concurrency).
   */
  public static Ec2Clients create(Ec2Target target, int maxConnections) {
    return create(target, maxConnections, retryStrategy(MAX_ATTEMPTS));
  }

  /** Clients that retry with {@code retry} (tests shorten the backoff). */
  static Ec2Clients create(Ec2Target target, int maxConnections, RetryStrategy retry) {
    if (maxConnections < 1) {
      throw new IllegalArgumentException(
          "maxConnections must be at least 1, found " + maxConnections);
    }
    return new Ec2Clients(target, maxConnections, retry);
  }

  /**
   * The SDK's standard retry strategy with {@code maxAttempts} attempts per call. EBS answers too
   * many concurrent calls for one snapshot with {@code ConcurrentLimitExceededException} (400),
   * which the SDK does not know as throttling: it is retried, with the throttling backoff.
   */
  static RetryStrategy retryStrategy(int maxAttempts) {
    return AwsRetryStrategy.forRetryMode(RetryMode.STANDARD).toBuilder()
        .maxAttempts(maxAttempts)
        .retryOnException(Ec2Clients::concurrentLimit)
        .treatAsThrottling(Ec2Clients::concurrentLimit)
        .build();
  }

  private static boolean concurrentLimit(Throwable t) {
    return errorCode(t).equals("ConcurrentLimitExceededException");
  }

  /** Sets a request's {@link #RETRIES} counter (none when {@code retries} is null). */
  static Consumer<AwsRequestOverrideConfiguration.Builder> countRetries(LongAdder retries) {
    return o -> {
      if (retries != null) {
        o.putExecutionAttribute(RETRIES, retries);
      }
    };
  }

  /** The error code of an AWS service error, or empty. */
  /**
   * The pause before the next look at a resource that is not ready yet (a snapshot being completed,
   * an AMI being registered or copied), after {@code looks} looks: 100 ms, doubling each time, up
   * to {@code interval}. What is ready within a second is seen within a few tenths of it, not a
   * whole interval later; a long wait costs a handful of calls more at its start.
   */
  static long pollDelayMillis(java.time.Duration interval, int looks) {
    return Math.min(interval.toMillis(), 100L << Math.min(Math.max(looks - 1, 0), 16));
  }

  static String errorCode(Throwable t) {
    if (t instanceof AwsServiceException e && e.awsErrorDetails() != null) {
      String code = e.awsErrorDetails().errorCode();
      return code == null ? "" : code;
    }
    return "";
  }

  /** Counts the attempts the SDK repeats for a request that carries a {@link #RETRIES} counter. */
  private static final class RetryCounter implements ExecutionInterceptor {
    @Override
    public void beforeExecution(Context.BeforeExecution context, ExecutionAttributes attributes) {
      attributes.putAttribute(ATTEMPTS, new AtomicInteger());
    }

    @Override
    public void beforeTransmission(
        Context.BeforeTransmission context, ExecutionAttributes attributes) {
      AtomicInteger attempts = attributes.getAttribute(ATTEMPTS);
      if (attempts != null && attempts.incrementAndGet() > 1) {
        LongAdder retries = attributes.getAttribute(RETRIES);
        if (retries != null) {
          retries.increment();
        }
        log.debug(
            "{} {}: attempt {}",
            attributes.getAttribute(SdkExecutionAttribute.SERVICE_NAME),
            attributes.getAttribute(SdkExecutionAttribute.OPERATION_NAME),
            attempts.get());
      }
    }
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
   * The EC2 client in {@code regionId} (for copies). With an endpoint override, every region's
   * calls go to that endpoint, signed for their own region.
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
                  .overrideConfiguration(overrides);
          target.ec2Endpoint().ifPresent(b::endpointOverride);
          return b.build();
        });
  }

  /**
   * The S3 client in the target region, for the attestations location (made on first use); with an
   * {@code s3Endpoint}, path-style requests to it.
   */
  public synchronized S3Client s3() {
    if (s3 == null) {
      var b =
          S3Client.builder()
              .region(region)
              .credentialsProvider(credentials)
              .httpClient(http)
              .overrideConfiguration(overrides)
              // every object is named by the SHA-256 of its bytes; checksums only where S3 requires
              // them (S3-compatible servers differ in the newer ones)
              .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
              .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
      target.s3Endpoint().ifPresent(e -> b.endpointOverride(e).forcePathStyle(true));
      s3 = b.build();
    }
    return s3;
  }

  @Override
  public void close() {
    synchronized (this) {
      if (s3 != null) {
        s3.close();
      }
    }
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
