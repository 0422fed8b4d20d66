/**
 * The remote cache as a bake uses it: guarded by timeouts and a breaker, layers pulled checked,
 * pushed in the background. May use {@code dev.kiln}, {@code event}, {@code spi}, {@code
 * internal.store} and {@code internal.oci}.
 */
package dev.kiln.internal.remote;
