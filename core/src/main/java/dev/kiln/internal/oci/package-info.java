/**
 * OCI images: config and manifest JSON, reading OCI layouts, and the {@code oci:}/{@code
 * oci-archive:}/{@code docker-archive:} targets. May use {@code dev.kiln}, {@code event} and {@code
 * spi}.
 */
package dev.kiln.internal.oci;
