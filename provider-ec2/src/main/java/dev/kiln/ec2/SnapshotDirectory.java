package dev.kiln.ec2;

import java.util.Optional;

/**
 * Where snapshots of cache keys are found besides the account's own {@code kiln:key} tags: the
 * remote cache shared by a build fleet ({@code ec2-snapshots/REGION.KEY}), so a runner finds the
 * base snapshot another runner uploaded even where tags do not reach (a snapshot shared from a
 * build account). Implementations never fail: a lookup that cannot be answered is empty.
 * Thread-safe.
 */
interface SnapshotDirectory {
  /** None: only the account's tags are asked. */
  SnapshotDirectory NONE =
      new SnapshotDirectory() {
        @Override
        public Optional<String> find(String region, String cacheKey) {
          return Optional.empty();
        }

        @Override
        public void record(String region, String cacheKey, String snapshotId) {}
      };

  /** The snapshot recorded for a cache key in a region. */
  Optional<String> find(String region, String cacheKey);

  /** Records the snapshot uploaded for a cache key in a region. */
  void record(String region, String cacheKey, String snapshotId);
}
