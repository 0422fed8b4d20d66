/**
 * The engine: resolves builds into a graph of layer nodes and runs the bake steps over it (keys,
 * provisioning, assembling, recording, publishing). May use every other package; nothing uses it
 * but {@code Kiln} and the classes beside it that it hands work to ({@code KilnRuntime}, {@code
 * EarlyBake}).
 */
package dev.kiln.internal.graph;
