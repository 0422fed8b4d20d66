package dev.kiln.ec2;

/**
 * Receives the progress of an EBS snapshot upload: at most a few times a second while blocks are
 * examined and sent, and once more with the final figures. Called from the upload's worker threads,
 * so implementations must be thread-safe and quick.
 */
@FunctionalInterface
public interface UploadListener {
  /** Called with the latest figures; successive calls never go backwards. */
  void progress(UploadProgress progress);

  /** A listener that ignores everything. */
  static UploadListener none() {
    return p -> {};
  }
}
