/**
 * Deflate engines: {@link dev.kiln.internal.deflate.DeflateEngines} chooses between the JDK's
 * deflater and Kiln's Java port of standard zlib so that compressed blobs are the same bytes on
 * every machine. {@link dev.kiln.internal.deflate.SpiDeflateBackend} puts them behind {@link
 * dev.kiln.spi.Deflate}, the providers' zlib streams; nothing else of Kiln is used.
 */
package dev.kiln.internal.deflate;
