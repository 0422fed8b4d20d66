package dev.kiln.docker;

import dev.kiln.Platform;
import dev.kiln.ProvisioningException;
import java.nio.file.Path;

/** Opens the emulation check to the hostile-input tests of this module. */
public final class EmulationProbe {
  private EmulationProbe() {}

  /** Why {@code binfmt} cannot emulate {@code platform}, or null. */
  public static String problem(Platform platform, Path binfmt) {
    return Emulation.problem(platform, binfmt);
  }

  /** The error a layer for {@code platform} on a {@code host} daemon gets, or null. */
  public static String check(Platform platform, Platform host, Path binfmt) {
    try {
      Emulation.check("layer", platform, host, binfmt);
      return null;
    } catch (ProvisioningException e) {
      return e.getMessage();
    }
  }
}
