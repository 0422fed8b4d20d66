package dev.kiln.vmware;

import com.google.common.collect.ImmutableList;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * An OVF package written as loose files in a directory ({@code ovf:DIR}): the descriptor, the
 * manifest, the certificate when the package is signed, and the disk, listed in the order an OVA
 * holds them.
 *
 * @param directory where the files are
 * @param files the descriptor first, then the manifest, then the certificate if any, then the disk
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

  /**
   * The OVF certificate ({@code NAME.cert}): the manifest's signature and the signer's certificate.
   */
  public Optional<PackagedFile> certificate() {
    return files.stream().filter(f -> f.name().endsWith(".cert")).findFirst();
  }

  /** The streamOptimized disk ({@code NAME-disk1.vmdk}). */
  public PackagedFile vmdk() {
    return files.get(files.size() - 1);
  }

  /** Where {@code file} is on disk. */
  public Path path(PackagedFile file) {
    return directory.resolve(file.name());
  }
}
