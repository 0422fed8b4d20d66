/**
 * Provider discovery: provisioners, image stores, base images and remote caches by kind and scheme.
 * May use {@code dev.kiln}, {@code spi} and {@code internal.provision}.
 */
package dev.kiln.internal.registry;
