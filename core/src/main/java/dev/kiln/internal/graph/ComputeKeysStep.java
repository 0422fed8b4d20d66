package dev.kiln.internal.graph;

import dev.kiln.ImageConfig;
import dev.kiln.internal.keys.LayerKeys;

/**
 * Step 3: the cache key of every node, parents first, from the prepared layer's fingerprint ({@link
 * LayerKeys}). A layer that runs in its parent also keys on the environment and working directory
 * it runs with.
 */
final class ComputeKeysStep {

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
    ImageConfig runsWith = n.prepared.needsParent() ? n.runConfig : ImageConfig.empty();
    n.key =
        LayerKeys.layer(
            n.parent == null ? null : n.parent.key, n.layer.kind(), fp.digest(), runsWith);
  }
}
