/**
 * The engine: resolves builds into a graph of layer nodes and runs the bake steps over it (keys,
 * provisioning, assembling, recording, publishing). May use every other package; nothing uses it
 * but {@code Kiln}.
 */
package dev.kiln.internal.graph;
