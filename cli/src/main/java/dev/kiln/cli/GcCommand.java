package dev.kiln.cli;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.Kiln;
import dev.kiln.RetentionReport;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code kiln gc}: collects garbage in the local store ({@code Kiln.gc}, {@code
 * docs/lifecycle.md}), safe while other processes bake into it.
 */
@Command(
    name = "gc",
    mixinStandardHelpOptions = true,
    header = "Remove what the local store no longer needs, least recently used first.",
    description = {
      "Removes the images, layer cache entries and cached disks that no rule keeps, least recently used first, "
          + "then every blob nothing left refers to. Images pinned with --pin, used within --keep-recent-days "
          + "or among the --keep-last of their name stay, with what they need to bake again without "
          + "provisioning. Without a limit only what nothing refers to goes. Safe while other processes bake "
          + "into the store: what a running bake uses stays. Prints one line per item removed (or, with "
          + "--dry-run, that would be removed), then a summary."
    })
final class GcCommand implements Callable<Integer> {
  private static final Pattern SIZE =
      Pattern.compile("(\\d+)\\s*([kmgt]i?b?|b)?", Pattern.CASE_INSENSITIVE);

  @Spec CommandSpec spec;
  @Mixin StoreOption store;

  @Option(
      names = "--max-size",
      paramLabel = "SIZE",
      description =
          "Remove the least recently used until the store holds at most SIZE (e.g. 20G, 500M).")
  String maxSize;

  @Option(
      names = "--unused-days",
      paramLabel = "N",
      description = "Remove what no bake, cache hit or publication used for N days.")
  Integer unusedDays;

  @Option(
      names = "--keep-last",
      paramLabel = "N",
      description = "Keep the N most recently used images of each name (tag or target).")
  Integer keepLast;

  @Option(
      names = "--keep-recent-days",
      paramLabel = "N",
      description = "Keep every image baked or published within N days.")
  Integer keepRecentDays;

  @Option(
      names = "--pin",
      paramLabel = "DIGEST",
      description = "Never remove this image (sha256:… of a manifest or index); repeatable.")
  List<String> pins = List.of();

  @Option(names = "--dry-run", description = "List what would be removed; remove nothing.")
  boolean dryRun;

  @Option(names = "--verbose", description = "Also list what was kept, with the reason.")
  boolean verbose;

  @Override
  public Integer call() throws Exception {
    GcPolicy policy = GcPolicy.of();
    if (maxSize != null) {
      policy = policy.maxBytes(bytes(maxSize));
    }
    if (unusedDays != null) {
      policy = policy.unusedFor(Duration.ofDays(positive(unusedDays, "--unused-days")));
    }
    if (keepLast != null) {
      if (keepLast < 0) {
        throw new Exit.CliException(Exit.USAGE, "--keep-last takes 0 or more");
      }
      policy = policy.keepLast(keepLast);
    }
    if (keepRecentDays != null) {
      policy = policy.keepRecent(Duration.ofDays(positive(keepRecentDays, "--keep-recent-days")));
    }
    for (String p : pins) {
      try {
        policy = policy.pin(Digest.parse(p));
      } catch (IllegalArgumentException e) {
        throw new Exit.CliException(Exit.USAGE, "--pin takes sha256:<64 hex>, found '" + p + "'");
      }
    }
    if (dryRun) {
      policy = policy.dryRun();
    }
    store.existing();
    RetentionReport report;
    try (Kiln kiln = store.open(null)) {
      report = kiln.gc(policy);
    } catch (BakeException e) {
      throw new Exit.CliException(Exit.FAILED, "gc: " + e.getMessage(), e);
    }
    PrintWriter out = spec.commandLine().getOut();
    String gone = report.dryRun() ? "would remove" : "removed";
    report
        .removed()
        .forEach(i -> out.println(gone + "\t" + i.kind() + "\t" + i.id() + "\t" + i.reason()));
    if (verbose) {
      report
          .kept()
          .forEach(i -> out.println("kept\t" + i.kind() + "\t" + i.id() + "\t" + i.reason()));
    }
    out.println(report.summary());
    return Exit.OK;
  }

  private static long positive(int n, String option) {
    if (n < 1) {
      throw new Exit.CliException(Exit.USAGE, option + " takes 1 or more");
    }
    return n;
  }

  /** {@code 123}, {@code 500M}, {@code 20G}, {@code 1TiB}: binary units, as {@code du -h}. */
  static long bytes(String s) {
    Matcher m = SIZE.matcher(s.strip());
    if (!m.matches()) {
      throw new Exit.CliException(
          Exit.USAGE, "--max-size takes a size such as 20G, 500M or 1048576, found '" + s + "'");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "" : m.group(2).toLowerCase(Locale.ROOT);
    int shift =
        switch (unit.isEmpty() ? ' ' : unit.charAt(0)) {
          case 'k' -> 10;
          case 'm' -> 20;
          case 'g' -> 30;
          case 't' -> 40;
          default -> 0;
        };
    if (shift > 0 && n > (Long.MAX_VALUE >> shift)) {
      throw new Exit.CliException(Exit.USAGE, "--max-size " + s + " is too large");
    }
    return n << shift;
  }
}
