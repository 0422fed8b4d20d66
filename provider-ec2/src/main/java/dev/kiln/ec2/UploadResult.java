package dev.kiln.ec2;

import java.time.Duration;
import java.util.Optional;

/**
 * What an EBS snapshot upload did.
 *
 * @param snapshotId the completed snapshot
 * @param parentSnapshotId the parent it was started from, if any
 * @param volumeSizeGiB the snapshot's volume size
 * @param diskBytes the local disk's size
 * @param blocksTotal 512 KiB blocks examined: the local disk's (or its parent disk's, when that is
 *     longer)
 * @param blocksSent blocks written (PutSnapshotBlock calls that succeeded)
 * @param blocksSkippedZero all-zero blocks not sent (no parent)
 * @param blocksSkippedUnchanged blocks equal to the parent's, not sent
 * @param bytesSent block bytes sent
 * @param retries calls repeated after retryable errors
 * @param aggregateChecksum the LINEAR aggregate SHA-256 (Base64) sent with CompleteSnapshot, empty
 *     when no block was written
 * @param elapsed wall time from StartSnapshot to {@code completed}
 */
public record UploadResult(
    String snapshotId,
    Optional<String> parentSnapshotId,
    long volumeSizeGiB,
    long diskBytes,
    long blocksTotal,
    long blocksSent,
    long blocksSkippedZero,
    long blocksSkippedUnchanged,
    long bytesSent,
    long retries,
    Optional<String> aggregateChecksum,
    Duration elapsed) {

  /** Bytes sent per second of elapsed time. */
  public double bytesPerSecond() {
    double s = elapsed.toNanos() / 1e9;
    return s <= 0 ? 0 : bytesSent / s;
  }
}
