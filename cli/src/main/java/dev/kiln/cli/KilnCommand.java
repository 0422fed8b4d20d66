package dev.kiln.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code kiln}: the top command; alone, it shows its usage. */
@Command(
    name = "kiln",
    mixinStandardHelpOptions = true,
    versionProvider = KilnCommand.Version.class,
    description =
        "Bakes machine images (OCI/Docker images, EC2 AMIs, VMware templates) from Java definitions.",
    subcommands = {
      RunCommand.class,
      ImagesCommand.class,
      InspectCommand.class,
      CopyCommand.class,
      GcCommand.class,
      RetainCommand.class,
      VerifyCommand.class
    },
    footer = {
      "",
      "Exit codes:",
      "  0  done",
      "  1  a bake or a publication failed",
      "  2  usage error: unknown command or option, malformed or unknown target",
      "  3  definition error: the file is missing, does not compile, defines no image, or threw",
      "  4  no store, or no such image in it",
      "  5  kiln verify: the image is not signed by the key, or a signature or attestation does not check",
      "",
      "'kiln COMMAND --help' tells more about each command."
    })
final class KilnCommand implements Callable<Integer> {
  private final boolean terminal;
  @Spec CommandSpec spec;

  KilnCommand(boolean terminal) {
    this.terminal = terminal;
  }

  /** Whether a person watches: progress is shown only then. */
  boolean terminal() {
    return terminal;
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return Exit.USAGE;
  }

  /** The version of the distribution, from the jar's manifest. */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = KilnCommand.class.getPackage().getImplementationVersion();
      return new String[] {"kiln " + (v == null ? "(development build)" : v)};
    }
  }
}
