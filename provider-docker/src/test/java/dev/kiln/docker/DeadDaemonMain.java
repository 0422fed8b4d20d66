package dev.kiln.docker;

import dev.kiln.BakeException;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.nio.file.Path;

/**
 * {@code DeadDaemonMain STORE ROOTFS TARGET}: bakes a run layer, for the test that points
 * DOCKER_HOST at nothing.
 */
public final class DeadDaemonMain {
  public static void main(String[] args) throws Exception {
    ImageBuild build =
        ImageBuild.from(Base.rootfs(Path.of(args[1]))).layer(Layer.run("touch", "touch /x"));
    try (Kiln kiln = Kiln.builder().store(Path.of(args[0])).build()) {
      if (args.length > 2) {
        kiln.bake(ImageBuild.from(Base.rootfs(Path.of(args[1]))), args[2]);
      } else {
        kiln.bake(build);
      }
      System.out.println("baked");
    } catch (BakeException e) {
      System.out.println("FAILED: " + e.getMessage());
      System.exit(2);
    }
  }
}
