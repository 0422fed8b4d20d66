package dev.kiln.hostile;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.event.BakeEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * A separate process that starts writing a target and stops in the middle, for kill -9 tests:
 * {@code StalledArchiveWriterMain STORE INPUT_DIR TARGET}. Once the first layer is in the target's
 * temp file it prints {@code stalled} and waits forever.
 */
public final class StalledArchiveWriterMain {
  public static void main(String[] args) throws Exception {
    String target = args[2];
    try (Kiln kiln =
        Kiln.builder()
            .store(Path.of(args[0]))
            .listener(
                e -> {
                  if (e instanceof BakeEvent.BytesWritten w && w.subject().equals(target)) {
                    System.out.println("stalled");
                    System.out.flush();
                    try {
                      Thread.sleep(Long.MAX_VALUE);
                    } catch (InterruptedException ie) {
                      Thread.currentThread().interrupt();
                    }
                  }
                })
            .build()) {
      kiln.bake(definition(Path.of(args[1])), target);
    }
  }

  /** Two layers, the first large enough that the archive is not written in one go. */
  static ImageBuild definition(Path in) throws IOException {
    if (!Files.exists(in.resolve("big.bin"))) {
      Files.createDirectories(in);
      byte[] noise = new byte[4 << 20];
      new Random(11).nextBytes(noise);
      Files.write(in.resolve("big.bin"), noise);
      Files.writeString(in.resolve("small.txt"), "small\n");
    }
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("big").add(in.resolve("big.bin"), "/big.bin"))
        .layer(Layer.files("small").add(in.resolve("small.txt"), "/small.txt"));
  }
}
