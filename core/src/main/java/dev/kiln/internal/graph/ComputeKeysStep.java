package dev.kiln.internal.graph;

import dev.kiln.ImageConfig;
import dev.kiln.internal.keys.LayerKeys;

/**
 * Step 3: the cache key of every node, parents first, from the prepared layer's fingerprint ({@link
 * LayerKeys}). A layer that runs in its parent also keys on the environment and working directory
 * it runs with, and on the platform it runs on (a layer that only adds files is the same layer for
 * every platform), and on the settings that shape its bytes where they are not the defaults (the
 * time stamped on its entries, the gzip level).
 */
final class ComputeKeysStep {
  private final Services services;

  ComputeKeysStep(Services services) {
    this.services = services;
  }

  void run(Chain chain) {
    keys(chain.top());
  }

  private void keys(Node n) {
    if (n == null || n.key != null) {
      return;
    }
    keys(n.parent);
    LayerKeys.Fingerprinted fp = LayerKeys.fingerprint(n.prepared);
    n.inputs = fp.inputs();
    boolean runs = n.prepared.needsParent();
    n.key =
        LayerKeys.layer(
            n.parent == null ? null : n.parent.key,
            n.layer.kind(),
            fp.digest(),
            runs ? n.runConfig : ImageConfig.empty(),
            runs ? n.platform : null,
            services.mtime(),
            services.gzipLevel());
  }
}
