package dev.kiln.vmware.internal.vsphere;

import java.util.Objects;

/**
 * A reference to a vSphere managed object ({@code ManagedObjectReference}): its type and its id,
 * such as {@code VirtualMachine} / {@code vm-42}.
 */
public record ManagedObject(String type, String value) {
  public ManagedObject {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(value, "value");
  }

  @Override
  public String toString() {
    return type + ":" + value;
  }
}
