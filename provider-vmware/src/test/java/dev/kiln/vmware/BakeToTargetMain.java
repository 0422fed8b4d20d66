package dev.kiln.vmware;

import dev.kiln.Kiln;
import java.nio.file.Path;

/**
 * Run in a child JVM by {@link VsphereDiskOptionsIT}, whose environment carries the vSphere
 * credentials (the {@code vsphere://} store reads them from there): bakes {@link
 * VmwareDiskOptionsTest#dataImage()} into the store {@code args[0]} and the target {@code args[1]}.
 */
public final class BakeToTargetMain {
  private BakeToTargetMain() {}

  public static void main(String[] args) throws Exception {
    try (Kiln kiln = Kiln.builder().store(Path.of(args[0])).build()) {
      kiln.bake(VmwareDiskOptionsTest.dataImage(), args[1]);
    }
  }
}
