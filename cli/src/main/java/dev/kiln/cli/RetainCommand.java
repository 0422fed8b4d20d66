package dev.kiln.cli;

import dev.kiln.RetentionReport;
import dev.kiln.ec2.Ec2Clients;
import dev.kiln.ec2.Ec2Lifecycle;
import dev.kiln.ec2.Ec2Target;
import dev.kiln.vmware.VsphereLifecycle;
import dev.kiln.vmware.VsphereTarget;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kiln retain TARGET}: removes the old AMIs or vSphere templates published under a name
 * ({@code docs/lifecycle.md}).
 */
@Command(
    name = "retain",
    mixinStandardHelpOptions = true,
    header = "Remove old AMIs or vSphere templates, keeping the newest and the young ones.",
    description = {
      "For ec2://REGION/NAME: deregisters the AMIs published under NAME (in REGION and the copyTo regions) that "
          + "no keep rule keeps, and deletes their snapshots; shared AMIs and AMIs used by instances or launch "
          + "templates stay unless --include-shared or --force. For vsphere://…: destroys the templates (deletes "
          + "the library items) Kiln published in the target's folder (library) whose names match --names. "
          + "Prints one line per item (removed or kept, with the reason), then a summary."
    })
final class RetainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "TARGET",
      description =
          "ec2://REGION/NAME[?copyTo=…&endpoint=…] or vsphere://HOST/DC/vm/FOLDER/NAME, "
              + "vsphere://HOST/DC/NAME?library=LIB (credentials from the environment).")
  String target;

  @Option(
      names = "--keep-newest",
      paramLabel = "K",
      description = "Keep the K newest images (templates).")
  Integer keepNewest;

  @Option(
      names = "--keep-days",
      paramLabel = "N",
      description = "Keep what is younger than N days.")
  Integer keepDays;

  @Option(names = "--dry-run", description = "List what would be removed; remove nothing.")
  boolean dryRun;

  @Option(names = "--include-shared", description = "ec2: remove shared AMIs too.")
  boolean includeShared;

  @Option(
      names = "--force",
      description = "ec2: remove AMIs used by instances or launch templates too.")
  boolean force;

  @Option(
      names = "--names",
      paramLabel = "PATTERN",
      description =
          "vsphere: the template names to look at, * any characters, ? one (default: the target's name).")
  String names;

  @Override
  public Integer call() throws Exception {
    if (keepNewest == null && keepDays == null) {
      throw new Exit.CliException(
          Exit.USAGE, "say what to keep: --keep-newest K and/or --keep-days N");
    }
    if ((keepNewest != null && keepNewest < 0) || (keepDays != null && keepDays < 0)) {
      throw new Exit.CliException(Exit.USAGE, "--keep-newest and --keep-days take 0 or more");
    }
    RetentionReport report;
    if (target.startsWith("ec2://")) {
      if (names != null) {
        throw new Exit.CliException(
            Exit.USAGE, "--names is for vsphere:// targets; an ec2:// target names its AMIs");
      }
      Ec2Target t = Ec2Target.parse(target);
      try (Ec2Clients clients = Ec2Clients.create(t, 8)) {
        Ec2Lifecycle l = Ec2Lifecycle.create(clients).dryRun(dryRun);
        if (keepNewest != null) {
          l = l.keepNewest(keepNewest);
        }
        if (keepDays != null) {
          l = l.keepYoungerThan(Duration.ofDays(keepDays));
        }
        if (includeShared) {
          l = l.includeShared();
        }
        if (force) {
          l = l.force();
        }
        report = l.run(t.name());
      }
    } else if (target.startsWith("vsphere://")) {
      if (includeShared || force) {
        throw new Exit.CliException(
            Exit.USAGE, "--include-shared and --force are for ec2:// targets");
      }
      VsphereTarget t = VsphereTarget.parse(target);
      VsphereLifecycle l = VsphereLifecycle.of(t).dryRun(dryRun);
      if (keepNewest != null) {
        l = l.keepNewest(keepNewest);
      }
      if (keepDays != null) {
        l = l.keepYoungerThan(Duration.ofDays(keepDays));
      }
      report = l.run(names != null ? names : t.name());
    } else {
      throw new Exit.CliException(
          Exit.USAGE, "retain takes an ec2:// or vsphere:// target, found '" + target + "'");
    }
    PrintWriter out = spec.commandLine().getOut();
    String gone = report.dryRun() ? "would remove" : "removed";
    report
        .removed()
        .forEach(i -> out.println(gone + "\t" + i.kind() + "\t" + i.id() + "\t" + i.reason()));
    report
        .kept()
        .forEach(i -> out.println("kept\t" + i.kind() + "\t" + i.id() + "\t" + i.reason()));
    out.println(report.summary());
    return Exit.OK;
  }
}
