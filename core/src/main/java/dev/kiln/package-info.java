/**
 * The public API: the DSL ({@code ImageBuild}, {@code Base}, {@code Layer}s), its values, and the
 * {@code Kiln} facade. May use {@code spi} and {@code event}; {@code Kiln}, through {@code
 * KilnRuntime}, alone starts the engine ({@code internal.graph}).
 */
package dev.kiln;
