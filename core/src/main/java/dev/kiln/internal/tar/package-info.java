/**
 * Layer tarballs, not API: {@link dev.kiln.internal.tar.CanonicalLayerWriter} writes the one reproducible form
 * (sorted PAX tar, fixed mtime, explicit parents, OCI whiteouts, gzip compressed in parallel by {@link
 * dev.kiln.internal.tar.ParallelGzipOutputStream} with bytes that do not depend on thread timing), {@link
 * dev.kiln.internal.tar.TarLayerReader} reads any layer tarball with safety checks, and {@link
 * dev.kiln.internal.tar.LayerFlattener} adds a stack of layers up to one root file system.
 */
package dev.kiln.internal.tar;
