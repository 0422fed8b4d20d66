/**
 * Bake events and their listener: what a bake reports while it runs. May use the API values of
 * {@code dev.kiln}; nothing internal.
 */
package dev.kiln.event;
