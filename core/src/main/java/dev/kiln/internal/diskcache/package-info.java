/**
 * The store's disk cache: disks built base by base, kept in the store and shared through the remote
 * cache. May use {@code disk}, {@code spi}, {@code internal.store}, {@code internal.keys}, {@code
 * internal.remote}, {@code internal.oci}.
 */
package dev.kiln.internal.diskcache;
