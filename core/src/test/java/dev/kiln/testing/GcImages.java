package dev.kiln.testing;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Layer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
    writeOnce(work, base.resolve("lib.bin"), baseBytes, -1);
    Path app = work.resolve("app-" + v);
    writeOnce(work, app.resolve("app.bin"), appBytes, v);
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("base").add(base, "/opt/base"))
        .layer(Layer.files("app").add(app, "/opt/app"))
        .config(c -> c.cmd("/opt/app/app.bin"));
  }

  /**
   * Makes {@code file} of {@code n} bytes from {@code seed} unless it is there: written beside the
   * layers' directories in {@code work} and moved into place whole, so a process killed while it
   * writes (the garbage collection tests kill bakers) leaves no short file for the next to take for
   * the version's bytes, nor a stray file in a layer's directory.
   */
  private static void writeOnce(Path work, Path file, int n, long seed) throws IOException {
    if (Files.exists(file)) {
      return;
    }
    Files.createDirectories(file.getParent());
    Path tmp = Files.createTempFile(work, "." + file.getFileName(), ".tmp");
    Files.write(tmp, random(n, seed));
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }
}
