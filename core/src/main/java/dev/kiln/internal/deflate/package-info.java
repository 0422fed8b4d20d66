/**
 * Deflate engines: {@link dev.kiln.internal.deflate.DeflateEngines} chooses between the JDK's
 * deflater and Kiln's Java port of standard zlib so that compressed blobs are the same bytes on
 * every machine. Uses nothing else of Kiln.
 */
package dev.kiln.internal.deflate;
