/**
 * The local store: an OCI layout plus keys, records, locks and temp areas, with atomic writes. May
 * use {@code dev.kiln}, {@code spi}, {@code internal.keys} (file digests) and {@code internal.oci}
 * (JSON).
 */
package dev.kiln.internal.store;
