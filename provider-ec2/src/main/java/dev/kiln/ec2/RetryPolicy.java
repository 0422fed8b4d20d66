package dev.kiln.ec2;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.IOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.SdkClientException;

/**
 * How AWS calls are retried: up to {@code maxAttempts} tries, with exponential backoff and jitter between them, on
 * 5xx answers, throttling ({@code RequestThrottledException}, {@code ThrottlingException}, {@code
 * RequestLimitExceeded}, {@code ConcurrentLimitExceededException}, ...) and connection errors. Everything else
 * (validation, access denied, not found) fails at once.
 *
 * <p>The SDK clients Kiln builds have the SDK's own retries turned off, so that this policy is the only one and the
 * number of attempts is what it says.
 *
 * <p>Immutable and thread-safe.
 */
final class RetryPolicy {
  private static final Logger log = LoggerFactory.getLogger(RetryPolicy.class);

  private static final Set<String> THROTTLING =
      Set.of(
          "Throttling",
          "ThrottlingException",
          "ThrottledException",
          "RequestThrottledException",
          "RequestThrottled",
          "TooManyRequestsException",
          "RequestLimitExceeded",
          "ConcurrentLimitExceededException",
          "BandwidthLimitExceeded",
          "EC2ThrottledException",
          "SlowDown",
          "PriorRequestNotComplete");
  private static final Set<String> TRANSIENT =
      Set.of(
          "InternalError",
          "InternalFailure",
          "InternalServerException",
          "InternalServerError",
          "ServiceUnavailable",
          "ServiceUnavailableException",
          "Unavailable",
          "RequestTimeout",
          "RequestTimeoutException");
  // 5xx answers that are not worth repeating: EBS answers a reused ClientToken with other parameters with 503.
  private static final Set<String> NEVER = Set.of("ConflictException");

  private final int maxAttempts;
  private final Duration baseDelay;
  private final Duration maxDelay;

  private RetryPolicy(int maxAttempts, Duration baseDelay, Duration maxDelay) {
    checkArgument(maxAttempts >= 1, "maxAttempts must be at least 1, found %s", maxAttempts);
    checkArgument(!baseDelay.isNegative() && !maxDelay.isNegative(), "delays must not be negative");
    this.maxAttempts = maxAttempts;
    this.baseDelay = baseDelay;
    this.maxDelay = maxDelay;
  }

  /** 8 attempts, 200 ms doubling up to 20 s, with jitter: rides out about a minute of throttling. */
  public static RetryPolicy defaults() {
    return new RetryPolicy(8, Duration.ofMillis(200), Duration.ofSeconds(20));
  }

  /** One attempt, no retry. */
  public static RetryPolicy none() {
    return new RetryPolicy(1, Duration.ZERO, Duration.ZERO);
  }

  /** A copy with at most this many attempts per call (1 = no retry). */
  public RetryPolicy withMaxAttempts(int attempts) {
    return new RetryPolicy(attempts, baseDelay, maxDelay);
  }

  /** A copy whose first delay is about {@code delay}, doubling on each further attempt up to {@code max}. */
  public RetryPolicy withDelays(Duration delay, Duration max) {
    return new RetryPolicy(maxAttempts, delay, max);
  }

  /** The most attempts one call gets. */
  public int maxAttempts() {
    return maxAttempts;
  }

  /** The delay before the first retry, before jitter. */
  public Duration baseDelay() {
    return baseDelay;
  }

  /** The cap on any delay. */
  public Duration maxDelay() {
    return maxDelay;
  }

  /** Whether an error from an AWS call is worth another attempt: 5xx, throttling or a broken connection. */
  public static boolean isRetryable(Throwable t) {
    if (t instanceof AwsServiceException) {
      AwsServiceException e = (AwsServiceException) t;
      String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
      if (code != null && NEVER.contains(code)) {
        return false;
      }
      if (code != null && (THROTTLING.contains(code) || TRANSIENT.contains(code))) {
        return true;
      }
      return e.statusCode() >= 500 || e.statusCode() == 429;
    }
    if (t instanceof AbortedException) {
      return false;
    }
    if (t instanceof SdkClientException) {
      for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
        if (c instanceof IOException) {
          return true;
        }
      }
      return false;
    }
    return false;
  }

  /** The error code of an AWS service error, or empty. */
  static String errorCode(Throwable t) {
    if (t instanceof AwsServiceException && ((AwsServiceException) t).awsErrorDetails() != null) {
      String code = ((AwsServiceException) t).awsErrorDetails().errorCode();
      return code == null ? "" : code;
    }
    return "";
  }

  /** The delay before attempt {@code attempt + 1}: exponential, capped, "equal jitter" (half fixed, half random). */
  Duration delayAfter(int attempt) {
    long base = baseDelay.toMillis();
    long exp = base << Math.min(attempt - 1, 20);
    long capped = Math.min(Math.max(exp, 0), maxDelay.toMillis());
    if (capped <= 1) {
      return Duration.ofMillis(capped);
    }
    long half = capped / 2;
    return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(half + 1));
  }

  /**
   * Runs {@code call}, retrying on retryable errors (and on those {@code alsoRetry} accepts).
   *
   * @param what the operation, for logs
   * @param retries counts the retries made (may be null)
   * @throws InterruptedException when interrupted while waiting between attempts
   */
  <T> T call(String what, Supplier<T> call, Predicate<Throwable> alsoRetry, LongAdder retries)
      throws InterruptedException {
    for (int attempt = 1; ; attempt++) {
      try {
        return call.get();
      } catch (RuntimeException e) {
        boolean retryable = isRetryable(e) || (alsoRetry != null && alsoRetry.test(e));
        if (!retryable || attempt >= maxAttempts) {
          throw e;
        }
        Duration d = delayAfter(attempt);
        log.debug("{} failed (attempt {}/{}), retrying in {} ms: {}", what, attempt, maxAttempts, d.toMillis(),
            e.toString());
        if (retries != null) {
          retries.increment();
        }
        if (Thread.interrupted()) {
          throw new InterruptedException(what + " interrupted");
        }
        Thread.sleep(d.toMillis());
      }
    }
  }

  /** Runs {@code call} with the default retry conditions. */
  <T> T call(String what, Supplier<T> call) throws InterruptedException {
    return call(what, call, null, null);
  }

  @Override
  public String toString() {
    return "RetryPolicy[maxAttempts=" + maxAttempts + ", baseDelay=" + baseDelay + ", maxDelay=" + maxDelay + "]";
  }
}
