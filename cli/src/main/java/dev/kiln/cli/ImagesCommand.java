package dev.kiln.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code kiln images}: the store's images, newest first. */
@Command(
    name = "images",
    mixinStandardHelpOptions = true,
    header = "List the store's images.",
    description =
        "Lists the images of the store, newest first: digest, names, when first baked, size (config and "
            + "compressed layers), and the targets each was published to.")
final class ImagesCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin StoreOption store;

  @Option(
      names = {"-q", "--quiet"},
      description = "Print only the full digests, one a line.")
  boolean quiet;

  @Option(names = "--no-trunc", description = "Print full digests.")
  boolean noTrunc;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    StoreListing listing = new StoreListing(store.existing());
    List<StoreListing.Image> images = listing.images();
    listing.indexWarning().ifPresent(spec.commandLine().getErr()::println);
    if (quiet) {
      images.forEach(i -> out.println(i.digest()));
      return Exit.OK;
    }
    String format = noTrunc ? "%-71s  %-20s  %-20s  %10s  %s%n" : "%-12s  %-20s  %-20s  %10s  %s%n";
    out.printf(format, "DIGEST", "NAME", "BAKED", "SIZE", "TARGETS");
    for (StoreListing.Image i : images) {
      out.printf(
          format,
          noTrunc ? i.digest().toString() : i.digest().shortHex(),
          i.names().isEmpty() ? "-" : String.join(",", i.names()),
          i.baked().map(ImagesCommand::when).orElse("-"),
          i.damage().isPresent() ? "-" : Progress.size(i.size()),
          i.damage().map(d -> "DAMAGED: " + d).orElse(targets(i)));
    }
    long damaged = images.stream().filter(i -> i.damage().isPresent()).count();
    if (damaged > 0) {
      spec.commandLine()
          .getErr()
          .printf(
              "kiln: %d image%s of the store cannot be trusted (see DAMAGED); baking it again or"
                  + " 'kiln gc' drops the entry%n",
              damaged, damaged == 1 ? "" : "s");
    }
    return Exit.OK;
  }

  private static String targets(StoreListing.Image i) {
    return i.targets().isEmpty() ? "-" : String.join(", ", i.targets());
  }

  /** An ISO instant as {@code 2026-12-05 08:16:49} (UTC). */
  static String when(String iso) {
    String s = iso.replace('T', ' ');
    int dot = s.indexOf('.');
    s = dot > 0 ? s.substring(0, dot) : s.replace("Z", "");
    return s + " UTC";
  }
}
