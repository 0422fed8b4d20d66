package dev.kiln.vmware;

import dev.kiln.Digest;

/**
 * One file of an OVF package, as its manifest lists it.
 *
 * @param name the file name inside the package ({@code web.ovf}, {@code web-disk1.vmdk})
 * @param size its size in bytes
 * @param sha256 the SHA-256 of its content
 */
public record PackagedFile(String name, long size, Digest sha256) {}
