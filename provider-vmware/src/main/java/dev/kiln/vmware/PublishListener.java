package dev.kiln.vmware;

import dev.kiln.vmware.internal.vsphere.LeaseInfo;

/**
 * Hears what a {@link VspherePublisher} does, for progress display and diagnostics. Called from the
 * publishing thread and from the lease keep-alive timer: implementations must be thread-safe and
 * quick. All methods do nothing by default.
 */
interface PublishListener {
  /**
   * An import lease is ready; its VM exists from now until the import completes or is rolled back.
   */
  default void leaseReady(LeaseInfo lease) {}

  /**
   * {@code done} of {@code total} bytes of {@code file} have been sent (reported at least every MiB
   * and at the end).
   */
  default void bytesUploaded(String file, long done, long total) {}

  /** The lease was kept alive with a progress report of {@code percent}. */
  default void leaseKeptAlive(int percent) {}
}
