package dev.kiln.testing;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import java.nio.file.Path;

/**
 * A separate process that bakes a tree for the multi-process tests: {@code BakeMain STORE TREE
 * [TARGET...]}. The build has one files layer per top-level directory of TREE (sorted), over
 * scratch. Prints one line per layer and a final {@code image=} line.
 */
public final class BakeMain {
  public static void main(String[] args) throws Exception {
    Path store = Path.of(args[0]);
    Path tree = Path.of(args[1]);
    ImageBuild build = definition(tree);
    String[] targets = java.util.Arrays.copyOfRange(args, 2, args.length);
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      BakeResult r = kiln.bake(build, targets);
      for (LayerRecord l : r.layers()) {
        System.out.println(
            "layer "
                + l.name()
                + " key="
                + l.key()
                + " diffId="
                + l.diffId()
                + " digest="
                + l.digest());
      }
      System.out.println("image=" + r.digest());
    }
  }

  /** One files layer per top-level directory of the tree, sorted by name. */
  public static ImageBuild definition(Path tree) throws java.io.IOException {
    ImageBuild b = ImageBuild.from(Base.scratch());
    try (var s = java.nio.file.Files.list(tree)) {
      for (Path d : s.sorted().toList()) {
        b = b.layer(Layer.files(d.getFileName().toString()).add(d, "/" + d.getFileName()));
      }
    }
    return b.config(c -> c.cmd("/bin/true"));
  }
}
