package dev.kiln.ec2;

/**
 * Where an upload stands: how much of the disk has been examined, how much sent, how many blocks
 * were skipped (all-zero, or equal to the parent's).
 *
 * @param snapshotId the snapshot being written
 * @param diskBytes the size of the local disk
 * @param bytesScanned bytes of the disk examined so far
 * @param bytesSent bytes written to the snapshot so far (whole 512 KiB blocks)
 * @param blocksSent blocks written so far
 * @param blocksSkipped blocks not sent: zero without a parent, or unchanged from the parent
 * @param retries calls repeated after a retryable error so far
 */
public record UploadProgress(
    String snapshotId,
    long diskBytes,
    long bytesScanned,
    long bytesSent,
    long blocksSent,
    long blocksSkipped,
    long retries) {

  /** The fraction of the disk examined, 0 to 1. */
  public double fraction() {
    return diskBytes == 0 ? 1.0 : Math.min(1.0, (double) bytesScanned / diskBytes);
  }
}
