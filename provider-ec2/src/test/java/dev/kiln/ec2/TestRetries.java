package dev.kiln.ec2;

import java.time.Duration;
import software.amazon.awssdk.retries.StandardRetryStrategy;
import software.amazon.awssdk.retries.api.BackoffStrategy;
import software.amazon.awssdk.retries.api.RetryStrategy;

/**
 * The clients' retry strategy with millisecond backoff, so that tests that inject faults stay fast.
 */
final class TestRetries {
  private TestRetries() {}

  /** Kiln's strategy with {@code maxAttempts} attempts and delays of 1 ms doubling to 20 ms. */
  static RetryStrategy fast(int maxAttempts) {
    return builder(maxAttempts, Duration.ofMillis(1), Duration.ofMillis(20)).build();
  }

  /**
   * The same with fixed delays and no circuit breaker: a call is retried for as long as the faults
   * last.
   */
  static RetryStrategy endless(int maxAttempts, Duration delay) {
    return builder(maxAttempts, delay, delay).circuitBreakerEnabled(false).build();
  }

  /** Clients for {@code target} that retry {@code fast(8)}. */
  static Ec2Clients clients(Ec2Target target, int maxConnections) {
    return Ec2Clients.create(target, maxConnections, fast(Ec2Clients.MAX_ATTEMPTS));
  }

  private static StandardRetryStrategy.Builder builder(
      int maxAttempts, Duration base, Duration max) {
    BackoffStrategy backoff = BackoffStrategy.exponentialDelay(base, max);
    return ((StandardRetryStrategy) Ec2Clients.retryStrategy(maxAttempts))
        .toBuilder().backoffStrategy(backoff).throttlingBackoffStrategy(backoff);
  }
}
