package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code kiln inspect DIGEST|NAME|TARGET}: an image's layers, keys, record and publications. */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    header = "Show an image: layers, keys, record, publications.",
    description =
        "Shows an image of the store: its record (base, config, key), its layers with their cache keys, "
            + "digests and sizes, and where it was published.")
final class InspectCommand implements Callable<Integer> {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  @Spec CommandSpec spec;
  @Mixin StoreOption store;

  @Parameters(
      index = "0",
      paramLabel = "IMAGE",
      description =
          "A digest (or its first digits), a name in the store, or a target the image was published to.")
  String image;

  @Option(names = "--json", description = "Print the image record and its publications as JSON.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    StoreListing listing = new StoreListing(store.existing());
    StoreListing.Image i = listing.resolve(image);
    listing.indexWarning().ifPresent(spec.commandLine().getErr()::println);
    if (json) {
      ObjectNode n =
          i.record().map(r -> ((ObjectNode) r).deepCopy()).orElseGet(JSON::createObjectNode);
      // the record as the store holds it (fields of any version), then what the store says of it
      n.put("image", i.digest().toString());
      i.damage().ifPresent(d -> n.put("damaged", d));
      n.set("names", JSON.valueToTree(i.names()));
      n.set("publications", JSON.valueToTree(i.publications()));
      out.println(JSON.writeValueAsString(n));
      return Exit.OK;
    }
    out.printf("image     %s%n", i.digest());
    if (i.damage().isPresent()) {
      out.printf("damaged   %s%n", i.damage().get());
    }
    out.printf("names     %s%n", i.names().isEmpty() ? "-" : String.join(", ", i.names()));
    JsonNode r = i.record().orElse(null);
    if (r == null) {
      out.printf(
          "record    none (not baked by this store: imported, or written by another tool)%n");
    } else {
      out.printf("baked     %s%n", r.path("firstBaked").asText("-"));
      out.printf("base      %s%n", r.path("base").asText("-"));
      out.printf("config    %s%n", r.path("config").asText("-"));
      out.printf("key       %s%n", r.path("key").asText("-"));
    }
    if (i.damage().isEmpty()) {
      out.printf("size      %s in %d layers%n", Progress.size(i.size()), i.layers());
    }
    if (r != null) {
      out.printf("layers%n");
      for (JsonNode l : r.path("layers")) {
        out.printf(
            "  %-16s %-10s %10s  digest %s%n",
            l.path("name").asText(),
            l.path("kind").asText(),
            Progress.size(l.path("size").asLong()),
            l.path("digest").asText());
        out.printf("  %-16s %-10s %10s  diffId %s%n", "", "", "", l.path("diffId").asText());
        out.printf("  %-16s %-10s %10s  key    %s%n", "", "", "", l.path("key").asText());
        for (JsonNode in : l.path("inputs")) {
          out.printf(
              "  %-16s %-10s %10s  input  %s %s%n",
              "", "", "", in.path("name").asText(), in.path("digest").asText());
        }
      }
    }
    out.printf("published%s%n", i.publications().isEmpty() ? "  nowhere yet" : "");
    for (StoreListing.Publication p : i.publications()) {
      out.printf(
          "  %s  %s%s  %s%n",
          p.at(), p.target(), p.reused() ? " (already there)" : "", p.details());
    }
    return Exit.OK;
  }
}
