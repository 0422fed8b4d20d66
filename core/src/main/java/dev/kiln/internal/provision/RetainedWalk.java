package dev.kiln.internal.provision;

import java.util.List;

/**
 * A walk {@link FilesProvisioner} keeps across bakes, with the watch over its trees; a marker (null
 * walk) for a layer seen once.
 */
record RetainedWalk(FilesWalk walk, TreeWatcher.Watch watch, List<DeclaredSource> sources) {
  /** A marker: the layer was prepared once, nothing is kept. */
  static RetainedWalk marker() {
    return new RetainedWalk(null, null, List.of());
  }

  /** Whether the walk still stands: nothing changed under the watched trees nor at its sources. */
  boolean unchanged(TreeWatcher tw) {
    return !walk.stale()
        && tw.sync()
        && watch.clean()
        && sources.stream().allMatch(DeclaredSource::unchanged);
  }

  void release() {
    if (watch != null) {
      watch.release();
    }
  }
}
