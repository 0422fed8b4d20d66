package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.ec2.LoopbackAws.Fault;
import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.retries.api.AcquireInitialTokenRequest;
import software.amazon.awssdk.retries.api.RefreshRetryTokenRequest;
import software.amazon.awssdk.retries.api.RetryStrategy;
import software.amazon.awssdk.retries.api.RetryToken;
import software.amazon.awssdk.retries.api.TokenAcquisitionFailedException;
import software.amazon.awssdk.services.ec2.model.Ec2Exception;

/**
 * The clients retry with the SDK's standard strategy, plus EBS's concurrency limit, and count what
 * they repeat; their waits look again soon at first.
 */
class Ec2ClientsRetryTest {
  static AwsServiceException error(int status, String code) {
    return AwsServiceException.builder()
        .statusCode(status)
        .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage(code).build())
        .build();
  }

  static boolean retried(Throwable failure) {
    RetryStrategy s = Ec2Clients.retryStrategy(Ec2Clients.MAX_ATTEMPTS);
    RetryToken token = s.acquireInitialToken(AcquireInitialTokenRequest.create("test")).token();
    try {
      s.refreshRetryToken(RefreshRetryTokenRequest.builder().token(token).failure(failure).build());
      return true;
    } catch (TokenAcquisitionFailedException e) {
      return false;
    }
  }

  @Test
  void retriesServerErrorsThrottlingAndBrokenConnectionsOnly() {
    assertThat(Ec2Clients.retryStrategy(Ec2Clients.MAX_ATTEMPTS).maxAttempts()).isEqualTo(8);
    assertThat(retried(error(500, "InternalServerException"))).isTrue();
    assertThat(retried(error(503, "Unavailable"))).isTrue();
    assertThat(retried(error(400, "RequestThrottledException"))).isTrue();
    assertThat(retried(error(400, "ThrottlingException"))).isTrue();
    assertThat(retried(error(503, "RequestLimitExceeded"))).isTrue();
    assertThat(retried(error(400, "ConcurrentLimitExceededException"))).isTrue();
    assertThat(retried(error(429, "TooManyRequests"))).isTrue();
    assertThat(retried(SdkClientException.create("reset", new IOException("Connection reset"))))
        .isTrue();

    assertThat(retried(error(400, "ValidationException"))).isFalse();
    assertThat(retried(error(403, "AccessDeniedException"))).isFalse();
    assertThat(retried(error(404, "ResourceNotFoundException"))).isFalse();
    assertThat(retried(SdkClientException.create("bad region"))).isFalse();
    assertThat(retried(new IllegalStateException())).isFalse();
  }

  @Test
  void givesUpAfterMaxAttemptsAndCountsRetries() {
    try (LoopbackAws aws = LoopbackAws.start();
        Ec2Clients clients =
            Ec2Clients.create(aws.target("eu-west-1", "web"), 4, TestRetries.fast(4))) {
      aws.failFromNow("DescribeImages", Fault.INTERNAL_ERROR);
      LongAdder retries = new LongAdder();
      assertThatThrownBy(
              () ->
                  clients
                      .ec2()
                      .describeImages(
                          b -> b.overrideConfiguration(Ec2Clients.countRetries(retries))))
          .isInstanceOf(Ec2Exception.class);
      assertThat(aws.calls("DescribeImages")).isEqualTo(4);
      assertThat(retries.sum()).isEqualTo(3);

      aws.failFromNow("DescribeSnapshots", Fault.ACCESS_DENIED);
      LongAdder none = new LongAdder();
      assertThatThrownBy(
              () ->
                  clients
                      .ec2()
                      .describeSnapshots(
                          b -> b.overrideConfiguration(Ec2Clients.countRetries(none))))
          .isInstanceOf(Ec2Exception.class);
      assertThat(aws.calls("DescribeSnapshots")).isEqualTo(1);
      assertThat(none.sum()).isZero();
    }
  }

  /**
   * The waits for a snapshot or an AMI look again after 100 ms, then twice as long each time, up to
   * the poll interval; an interval shorter than 100 ms is kept from the first look.
   */
  @Test
  void waitsLookAgainSoonAtFirstAndThenAtTheInterval() {
    java.time.Duration five = java.time.Duration.ofSeconds(5);
    long[] delays = new long[9];
    for (int looks = 1; looks <= delays.length; looks++) {
      delays[looks - 1] = Ec2Clients.pollDelayMillis(five, looks);
    }
    assertThat(delays).containsExactly(100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000);
    assertThat(Ec2Clients.pollDelayMillis(java.time.Duration.ofMillis(10), 1)).isEqualTo(10);
    assertThat(Ec2Clients.pollDelayMillis(five, 1_000_000)).isEqualTo(5000);
  }
}
