package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;

class RetryPolicyTest {
  static AwsServiceException error(int status, String code) {
    return AwsServiceException.builder().statusCode(status)
        .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage(code).build()).build();
  }

  @Test
  void retriesServerErrorsThrottlingAndBrokenConnectionsOnly() {
    assertThat(RetryPolicy.isRetryable(error(500, "InternalServerException"))).isTrue();
    assertThat(RetryPolicy.isRetryable(error(503, "Unavailable"))).isTrue();
    assertThat(RetryPolicy.isRetryable(error(400, "RequestThrottledException"))).isTrue();
    assertThat(RetryPolicy.isRetryable(error(400, "ThrottlingException"))).isTrue();
    assertThat(RetryPolicy.isRetryable(error(503, "RequestLimitExceeded"))).isTrue();
    assertThat(RetryPolicy.isRetryable(error(400, "ConcurrentLimitExceededException"))).isTrue();
    assertThat(RetryPolicy.isRetryable(error(429, "TooManyRequests"))).isTrue();
    assertThat(RetryPolicy.isRetryable(SdkClientException.create("reset", new IOException("Connection reset"))))
        .isTrue();

    assertThat(RetryPolicy.isRetryable(error(503, "ConflictException"))).isFalse();
    assertThat(RetryPolicy.isRetryable(error(400, "ValidationException"))).isFalse();
    assertThat(RetryPolicy.isRetryable(error(403, "AccessDeniedException"))).isFalse();
    assertThat(RetryPolicy.isRetryable(error(404, "ResourceNotFoundException"))).isFalse();
    assertThat(RetryPolicy.isRetryable(SdkClientException.create("bad region"))).isFalse();
    assertThat(RetryPolicy.isRetryable(new IllegalStateException())).isFalse();
  }

  @Test
  void delaysGrowExponentiallyWithJitterUpToTheCap() {
    RetryPolicy p = RetryPolicy.defaults().withDelays(Duration.ofMillis(100), Duration.ofSeconds(2));
    for (int i = 0; i < 200; i++) {
      assertThat(p.delayAfter(1).toMillis()).isBetween(50L, 100L);
      assertThat(p.delayAfter(3).toMillis()).isBetween(200L, 400L);
      assertThat(p.delayAfter(30).toMillis()).isBetween(1000L, 2000L);
    }
  }

  @Test
  void givesUpAfterMaxAttemptsAndCountsRetries() {
    RetryPolicy p = RetryPolicy.defaults().withMaxAttempts(4).withDelays(Duration.ofMillis(1), Duration.ofMillis(1));
    AtomicInteger calls = new AtomicInteger();
    LongAdder retries = new LongAdder();
    assertThatThrownBy(() -> p.call("x", () -> {
      calls.incrementAndGet();
      throw error(500, "InternalError");
    }, null, retries)).isInstanceOf(AwsServiceException.class);
    assertThat(calls).hasValue(4);
    assertThat(retries.sum()).isEqualTo(3);

    AtomicInteger fatal = new AtomicInteger();
    assertThatThrownBy(() -> p.call("x", () -> {
      fatal.incrementAndGet();
      throw error(400, "ValidationException");
    })).isInstanceOf(AwsServiceException.class);
    assertThat(fatal).hasValue(1);
  }
}
