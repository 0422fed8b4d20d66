/**
 * Cache keys and hashing: layer keys from fingerprints, the stat index of file digests. May use
 * {@code dev.kiln} and {@code spi}.
 */
package dev.kiln.internal.keys;
