package dev.kiln.vmware;

import com.google.common.collect.ImmutableList;
import java.nio.file.Path;
import java.util.List;

/**
 * An OVF package written as loose files in a directory ({@code ovf:DIR}): the descriptor, the
 * manifest and the disk, listed in the order an OVA holds them.
 *
 * @param directory where the files are
 * @param files the descriptor first, then the manifest, then the disk
 * @param disk what the VMDK writer reported about the disk
 */
public record OvfFiles(Path directory, List<PackagedFile> files, VmdkInfo disk) {
  public OvfFiles {
    files = ImmutableList.copyOf(files);
  }

  /** The OVF descriptor ({@code NAME.ovf}). */
  public PackagedFile descriptor() {
    return files.get(0);
  }

  /** The manifest ({@code NAME.mf}). */
  public PackagedFile manifest() {
    return files.get(1);
  }

  /** The streamOptimized disk ({@code NAME-disk1.vmdk}). */
  public PackagedFile vmdk() {
    return files.get(2);
  }

  /** Where {@code file} is on disk. */
  public Path path(PackagedFile file) {
    return directory.resolve(file.name());
  }
}
