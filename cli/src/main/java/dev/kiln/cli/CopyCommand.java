package dev.kiln.cli;

import dev.kiln.Digest;
import dev.kiln.Kiln;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code kiln copy SRC TARGET…}: publishes an image already baked, without baking it again. */
@Command(
    name = "copy",
    mixinStandardHelpOptions = true,
    header = "Publish a stored image to targets without baking it again.",
    description = {
      "Publishes an image of the store, or of another OCI layout, to targets without baking it again: the "
          + "promotion step of a pipeline. Every target receives the stored manifest, config and layers as they "
          + "are, so the image keeps its digest. Prints the digest."
    })
final class CopyCommand implements Callable<Integer> {
  @ParentCommand KilnCommand parent;
  @Spec CommandSpec spec;
  @Mixin StoreOption store;

  @Parameters(
      index = "0",
      paramLabel = "SRC",
      description =
          "A digest (or its first digits), a name in the store, a target the image was published to, "
              + "or oci:DIR:TAG, an image of another OCI layout (copied into the store first).")
  String source;

  @Parameters(
      index = "1..*",
      arity = "1..*",
      paramLabel = "TARGET",
      description = "Where to publish it, such as docker://HOST/REPO:TAG or oci-archive:app.tar.")
  List<String> targets;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Progress progress = parent.terminal() ? new Progress(spec.commandLine().getErr()) : null;
    Path layout = layout(source);
    Digest image =
        layout == null ? new StoreListing(store.existing()).resolve(source).digest() : null;
    try (Kiln kiln = store.open(progress)) {
      try {
        if (layout != null) {
          String tag = source.substring(source.lastIndexOf(':') + 1);
          image = kiln.importImage(layout, tag);
        }
        kiln.publish(image, targets.toArray(String[]::new));
      } finally {
        if (progress != null) {
          progress.finish();
        }
      }
    }
    out.println(image);
    return Exit.OK;
  }

  /** The layout of {@code oci:DIR:TAG} when DIR is an OCI layout; null for any other source. */
  private static Path layout(String src) {
    if (!src.startsWith("oci:")) {
      return null;
    }
    String rest = src.substring("oci:".length());
    int colon = rest.lastIndexOf(':');
    if (colon <= 0 || colon == rest.length() - 1) {
      throw new Exit.CliException(
          Exit.USAGE, "source '" + src + "' names no image: write oci:DIR:TAG");
    }
    Path dir = Path.of(rest.substring(0, colon));
    if (!Files.isRegularFile(dir.resolve("oci-layout"))) {
      throw new Exit.CliException(
          Exit.NOT_FOUND, "source '" + src + "': " + dir + " is not an OCI layout");
    }
    return dir;
  }
}
