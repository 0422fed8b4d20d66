/**
 * Layer tarballs: {@link dev.kiln.internal.tar.CanonicalLayerWriter} writes the one reproducible
 * form (gzip in parallel by {@link dev.kiln.internal.tar.ParallelGzipOutputStream}), {@link
 * dev.kiln.internal.tar.LayerFlattener} adds a stack of layers up to one root file system. May use
 * {@code dev.kiln} and {@code spi} (which reads layer tarballs).
 */
package dev.kiln.internal.tar;
