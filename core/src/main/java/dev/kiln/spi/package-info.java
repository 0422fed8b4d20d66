/**
 * The provider contract: provisioners, image stores, remote caches, layer reading and writing,
 * fingerprints. May use the API values of {@code dev.kiln} and {@code event}; never {@code
 * internal}. Providers use only this and the API.
 */
package dev.kiln.spi;
