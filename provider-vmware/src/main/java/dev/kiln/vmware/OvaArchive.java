package dev.kiln.vmware;

import com.google.common.collect.ImmutableList;
import dev.kiln.Digest;
import java.nio.file.Path;
import java.util.List;

/**
 * An OVF package written as one tar file ({@code ova:FILE}).
 *
 * @param file the OVA
 * @param size its size in bytes
 * @param sha256 the SHA-256 of the whole archive
 * @param entries the files inside, in archive order: descriptor, manifest, certificate (when
 *     signed), disk
 * @param disk what the VMDK writer reported about the disk
 */
public record OvaArchive(
    Path file, long size, Digest sha256, List<PackagedFile> entries, VmdkInfo disk) {
  public OvaArchive {
    entries = ImmutableList.copyOf(entries);
  }
}
