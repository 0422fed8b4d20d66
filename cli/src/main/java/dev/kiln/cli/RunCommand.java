package dev.kiln.cli;

import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import dev.kiln.DefinitionContext;
import dev.kiln.ImageBuild;
import dev.kiln.ImageDefinition;
import dev.kiln.ImageDefinitions;
import dev.kiln.Kiln;
import dev.kiln.event.BakeEvent;
import dev.kiln.event.BakeListener;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kiln run Images.java [--target T]…}: compiles a definition file and bakes what it defines.
 */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    header = "Compile a definition file and bake it.",
    description = {
      "Compiles a definition file against Kiln and bakes the images it defines into the store, then publishes them "
          + "to the targets. The file holds a public class implementing dev.kiln.ImageDefinition; no project is "
          + "needed. Relative paths in the definition are relative to the working directory; "
          + "ctx.projectDirectory() is the file's directory.",
      "Prints the image digest (for several images, 'DIGEST NAME' per image). Each image is also named in the "
          + "store: by the file's name in lower case for a definition of one image, by its name otherwise.",
      "With --sbom or --provenance, each document follows its image's line: '  KIND DIGEST FILE' (kind spdx, "
          + "cyclonedx or provenance; FILE, the document in the store). With --sign-key, docker:// and oci: "
          + "targets also receive the image's signature and the documents as signed attestations; "
          + "'kiln verify' checks them."
    })
final class RunCommand implements Callable<Integer> {
  @ParentCommand KilnCommand parent;
  @Spec CommandSpec spec;
  @Mixin StoreOption store;
  @Mixin SupplyChainOptions supplyChain;

  @Parameters(
      index = "0",
      paramLabel = "FILE",
      description = "The definition file, such as Images.java.")
  Path file;

  @Option(
      names = {"-t", "--target"},
      paramLabel = "TARGET",
      description =
          "Where to publish the image, such as oci-archive:build/app.tar or docker://HOST/REPO:TAG. "
              + "Repeatable.")
  List<String> targets = new ArrayList<>();

  @Option(
      names = {"-n", "--name"},
      paramLabel = "NAME",
      description = "Bake only the image of this name, for a definition of several. Repeatable.")
  List<String> names = new ArrayList<>();

  @Option(
      names = {"-P", "--param"},
      paramLabel = "KEY=VALUE",
      description = "A parameter for the definition (ctx.parameter(KEY)). Repeatable.")
  Map<String, String> params = new LinkedHashMap<>();

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    // the key is read and the options checked before anything is compiled or baked
    Consumer<Kiln.Builder> settings = supplyChain.configure();
    try (DefinitionFile def = DefinitionFile.compile(file)) {
      DefinitionContext ctx =
          DefinitionContext.builder().projectDirectory(def.directory()).parameters(params).build();
      Map<String, ImageBuild> builds =
          ImageDefinitions.define(def.definitions(), ctx, new LinkedHashSet<>(names));
      if (builds.size() > 1 && !targets.isEmpty()) {
        throw new Exit.CliException(
            Exit.USAGE,
            file
                + " defines "
                + builds.size()
                + " images ("
                + String.join(", ", builds.keySet())
                + "): choose the one to publish with --name");
      }
      Progress progress = parent.terminal() ? new Progress(err) : null;
      // without a terminal, warnings still reach the user (a target that cannot hold the signature
      // --sign-key asked for, what an SBOM could not read): one line each
      BakeListener listener =
          progress != null
              ? progress
              : e -> {
                if (e instanceof BakeEvent.Warning w) {
                  synchronized (err) {
                    err.println("kiln: warning: " + Exit.oneLine(w.message()));
                  }
                }
              };
      try (Kiln kiln = store.open(listener, settings)) {
        Map<String, BakeResult> results = new LinkedHashMap<>();
        try {
          if (builds.size() == 1) {
            Map.Entry<String, ImageBuild> only = builds.entrySet().iterator().next();
            results.put(only.getKey(), kiln.bake(only.getValue(), targets.toArray(String[]::new)));
          } else {
            Map<ImageBuild, List<String>> all = new LinkedHashMap<>();
            builds.values().forEach(b -> all.put(b, List.of()));
            List<BakeResult> rs = kiln.bakeAll(all);
            int i = 0;
            for (String name : builds.keySet()) {
              results.put(name, rs.get(i++));
            }
          }
        } finally {
          if (progress != null) {
            progress.finish();
          }
        }
        for (Map.Entry<String, BakeResult> r : results.entrySet()) {
          name(kiln, r.getKey(), r.getValue(), builds.size(), err);
          out.println(
              builds.size() == 1
                  ? r.getValue().digest().toString()
                  : r.getValue().digest() + " " + r.getKey());
          for (Attestation a : r.getValue().attestations()) {
            out.println(
                "  "
                    + a.kind().name().toLowerCase(Locale.ROOT)
                    + " "
                    + a.digest()
                    + " "
                    + store.path().resolve("blobs/sha256/" + a.digest().hex()));
          }
        }
      }
    }
    return Exit.OK;
  }

  /**
   * Names the image in the store; a name that cannot be a tag is said, and the image stays known by
   * its digest.
   */
  private void name(Kiln kiln, String name, BakeResult r, int count, PrintWriter err)
      throws Exception {
    String stem =
        file.getFileName().toString().replaceFirst("\\.java$", "").toLowerCase(Locale.ROOT);
    String tag = count == 1 && name.equals(ImageDefinition.DEFAULT_NAME) ? stem : name;
    try {
      kiln.tag(r.digest(), tag);
    } catch (IllegalArgumentException e) {
      err.println(
          "kiln: warning: image '" + name + "' is not named in the store: " + e.getMessage());
    }
  }
}
