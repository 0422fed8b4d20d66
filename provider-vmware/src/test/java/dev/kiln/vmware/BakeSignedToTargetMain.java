package dev.kiln.vmware;

import dev.kiln.Kiln;
import dev.kiln.SigningKey;
import java.nio.file.Path;

/**
 * Run in a child JVM by {@link SignedOvaVsphereIT}, whose environment carries the vSphere
 * credentials: bakes {@link VmwareDiskOptionsTest#dataImage()} into the store {@code args[0]} and
 * the target {@code args[1]} with a Kiln that signs with the key in {@code args[2]} (PEM) and the
 * certificate in {@code args[3]}, if given.
 */
public final class BakeSignedToTargetMain {
  private BakeSignedToTargetMain() {}

  public static void main(String[] args) throws Exception {
    SigningKey key =
        SigningKey.fromPem(Path.of(args[2]), args.length > 3 ? Path.of(args[3]) : null);
    try (Kiln kiln = Kiln.builder().store(Path.of(args[0])).signWith(key).build()) {
      kiln.bake(VmwareDiskOptionsTest.dataImage(), args[1]);
    }
  }
}
