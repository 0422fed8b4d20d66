package dev.kiln.internal.graph;

import dev.kiln.ImageConfig;
import java.util.List;

/**
 * A build resolved to its top node (null for an image without layers), the configuration its base
 * brings, how the base is described in keys and records, and the layer counts at which its bases
 * end (for disks built base by base).
 */
record Chain(Node top, ImageConfig baseConfig, String baseDescription, List<Integer> bases) {}
