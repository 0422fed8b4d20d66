/**
 * The core provisioners ({@code files}, {@code tar}, OCI base layers) and the tree watcher of files
 * layers. May use {@code dev.kiln}, {@code spi} and {@code internal.tar}.
 */
package dev.kiln.internal.provision;
