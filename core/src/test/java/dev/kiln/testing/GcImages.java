package dev.kiln.testing;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Layer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * The images the garbage collection tests bake: a base layer every version shares and an app layer
 * of each version's own, their files made once under a work directory (the same bytes for a version
 * in every process).
 */
public final class GcImages {
  private GcImages() {}

  /**
   * Version {@code v}, its base layer {@code baseBytes} and its app layer {@code appBytes} long.
   */
  public static ImageBuild version(Path work, int v, int baseBytes, int appBytes)
      throws IOException {
    Path base = work.resolve("base");
    if (!Files.exists(base.resolve("lib.bin"))) {
      Files.createDirectories(base);
      Files.write(base.resolve("lib.bin"), random(baseBytes, -1));
    }
    Path app = work.resolve("app-" + v);
    if (!Files.exists(app.resolve("app.bin"))) {
      Files.createDirectories(app);
      Files.write(app.resolve("app.bin"), random(appBytes, v));
    }
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("base").add(base, "/opt/base"))
        .layer(Layer.files("app").add(app, "/opt/app"))
        .config(c -> c.cmd("/opt/app/app.bin"));
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }
}
