package dev.kiln.event;

import dev.kiln.Digest;
import java.time.Duration;

/**
 * Something a user watches during a bake: a layer starting, a cache hit, a layer provisioned, bytes
 * written, an image published. Delivered to {@link BakeListener}s, possibly from several threads at
 * once. Immutable values.
 */
public sealed interface BakeEvent {

  /**
   * The layer's inputs were fingerprinted: how many files were checked and how many had to be read.
   */
  record InputsHashed(String layer, String kind, long filesChecked, long filesRead, long bytesRead)
      implements BakeEvent {}

  /** The layer's cache key is not in the store: it is being provisioned. */
  record LayerStarted(String layer, String kind, Digest key) implements BakeEvent {}

  /** The layer's cache key is in the store: nothing is provisioned. */
  record CacheHit(String layer, String kind, Digest key, Digest diffId) implements BakeEvent {}

  /** A layer was provisioned and committed to the store. */
  record LayerProvisioned(
      String layer, String kind, Digest key, Digest diffId, Digest digest, long size, Duration took)
      implements BakeEvent {}

  /**
   * Progress of a long write or upload: {@code done} of {@code total} bytes ({@code total} -1 if
   * unknown).
   */
  record BytesWritten(String subject, long done, long total) implements BakeEvent {}

  /** A provisioner's own progress line, e.g. a command's output or an Ansible task name. */
  record Output(String layer, String line) implements BakeEvent {}

  /** The image was assembled in the local store. */
  record ImageAssembled(Digest digest, int layers) implements BakeEvent {}

  /**
   * The image was published to a target; {@code reused} when the target already held it and nothing
   * was transferred.
   */
  record ImagePublished(String target, Digest digest, boolean reused, String detail, Duration took)
      implements BakeEvent {}

  /** Store content did not match its digest; it was evicted and will be provisioned again. */
  record CacheCorrupted(Digest digest, String detail) implements BakeEvent {}

  /**
   * The layer's cache key was found in the remote cache: its blob was downloaded, verified against
   * its digest and diffID, and committed to the local store instead of provisioning the layer.
   */
  record RemoteCacheHit(
      String layer, String kind, Digest key, Digest digest, long bytes, Duration took)
      implements BakeEvent {}

  /**
   * What was built locally was written to the remote cache: {@code subject} is a layer name or
   * {@code disk}; {@code bytesSent} is 0 when the remote already held the blob and only the entry
   * was written.
   */
  record RemoteCachePushed(String subject, Digest key, Digest digest, long bytesSent, Duration took)
      implements BakeEvent {}

  /**
   * The remote cache failed or did not answer in time during {@code operation}: the bake goes on
   * locally and does not ask this remote again until it ends. Emitted once per bake.
   */
  record RemoteCacheUnavailable(String remote, String operation, String reason)
      implements BakeEvent {}

  /**
   * A garbage collection of the local store ran ({@code Kiln.gc}, or automatically after a bake):
   * what it removed and kept, and why ({@code docs/lifecycle.md}).
   */
  record GarbageCollected(dev.kiln.RetentionReport report) implements BakeEvent {}

  /** Something the user should know that does not fail the bake. */
  record Warning(String message) implements BakeEvent {}
}
