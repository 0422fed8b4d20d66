package dev.kiln.ec2;

import java.util.Optional;

/**
 * What {@link Ec2Publisher#publish} did.
 *
 * @param ami the published AMI (with its copies)
 * @param reused true when an AMI with the same digest was already published and nothing was
 *     uploaded
 * @param upload the snapshot upload, empty when reused
 * @param sweep what the sweep before the publication removed
 */
public record PublishResult(
    Ami ami, boolean reused, Optional<UploadResult> upload, SweepResult sweep) {

  /** Block bytes uploaded (0 when reused). */
  public long bytesUploaded() {
    return upload.map(UploadResult::bytesSent).orElse(0L);
  }
}
