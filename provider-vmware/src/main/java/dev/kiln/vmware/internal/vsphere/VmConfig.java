package dev.kiln.vmware.internal.vsphere;

import com.google.common.collect.ImmutableList;
import java.util.List;

/**
 * What a virtual machine's configuration says about the properties Kiln sets and checks.
 *
 * @param name the VM's name
 * @param template whether it is a template ({@code config.template})
 * @param firmware {@code efi} or {@code bios}
 * @param numCpu the number of virtual CPUs
 * @param memoryMb memory in MiB
 * @param annotation the notes ({@code config.annotation}), empty if none
 * @param diskCapacitiesBytes the capacity of each virtual disk, in device order
 */
public record VmConfig(
    String name,
    boolean template,
    String firmware,
    int numCpu,
    long memoryMb,
    String annotation,
    List<Long> diskCapacitiesBytes) {
  public VmConfig {
    diskCapacitiesBytes = ImmutableList.copyOf(diskCapacitiesBytes);
  }
}
