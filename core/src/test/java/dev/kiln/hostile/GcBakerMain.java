package dev.kiln.hostile;

import dev.kiln.BakeResult;
import dev.kiln.GcPolicy;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.testing.GcImages;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

/**
 * A baker for {@link GcWhileBakingIT}: {@code GcBakerMain STORE WORKDIR SEED COUNT} bakes {@code
 * COUNT} images, each a version (0-7, chosen by {@code SEED}) of a 512 KiB base layer every version
 * shares and a 64 KiB app layer of its own, into STORE, with no collection of its own. Prints
 * {@code baked <version> <digest>} after each bake; a failed bake prints its stack trace and exits
 * 1.
 */
public final class GcBakerMain {
  static final int VERSIONS = 8;

  public static void main(String[] args) throws Exception {
    Path store = Path.of(args[0]);
    Path work = Path.of(args[1]);
    Random r = new Random(Long.parseLong(args[2]));
    int count = Integer.parseInt(args[3]);
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      for (int i = 0; i < count; i++) {
        int v = r.nextInt(VERSIONS);
        BakeResult res = kiln.bake(version(work, v));
        System.out.println("baked " + v + " " + res.digest());
        System.out.flush();
      }
    } catch (Throwable t) {
      t.printStackTrace(System.out);
      System.out.flush();
      System.exit(1);
    }
  }

  /** Version {@code v}: the shared base layer and an app layer of its own, under {@code work}. */
  static ImageBuild version(Path work, int v) throws IOException {
    return GcImages.version(work, v, 512 << 10, 64 << 10);
  }
}
