package dev.kiln.internal.graph;

import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.Layer;
import dev.kiln.Platform;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.PreparedLayer;
import java.util.List;

/**
 * A node of the layer graph: one layer on top of its parent chain. Builds that share a prefix share
 * its nodes. The steps fill it in order: {@link PrepareLayersStep} sets {@link #prepared}, {@link
 * ComputeKeysStep} the key and inputs.
 */
final class Node {
  final Node parent;
  final Layer layer;

  /** The environment and working directory the image below brings, for layers that run in it. */
  final ImageConfig runConfig;

  /** The platform the node's image is baked for: where the layer runs, its architecture. */
  final Platform platform;

  PreparedLayer prepared;
  Digest key;
  List<Fingerprint.Input> inputs = List.of();

  Node(Node parent, Layer layer, ImageConfig runConfig, Platform platform) {
    this.parent = parent;
    this.layer = layer;
    this.runConfig = runConfig;
    this.platform = platform;
  }

  /** How many nodes this chain has, this one included. */
  static int depth(Node n) {
    int d = 0;
    for (; n != null; n = n.parent) {
      d++;
    }
    return d;
  }
}
