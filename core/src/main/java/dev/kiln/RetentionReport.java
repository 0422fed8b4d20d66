package dev.kiln;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a lifecycle run removed and kept, and why: the local store's garbage collection, remote
 * cache retention, AMI and vSphere template retention all answer with one ({@code
 * docs/lifecycle.md}). On a dry run, {@link #removed()} lists what would go and nothing went.
 *
 * @param scope what was collected, e.g. {@code store /home/ci/.cache/kiln}, {@code ec2
 *     eu-west-1,us-east-1}
 * @param dryRun whether this only listed what would go
 * @param removed what was (or would be) removed
 * @param kept what was looked at and kept, with the reason (pinned, recent, in use, shared, …)
 * @param bytesFreed the bytes removed (allocated blocks for files; the size the remote reports
 *     otherwise; 0 where unknown)
 * @param millis how long the run took
 */
public record RetentionReport(
    String scope,
    boolean dryRun,
    List<Item> removed,
    List<Item> kept,
    long bytesFreed,
    long millis) {

  /**
   * One thing looked at.
   *
   * @param kind what it is: {@code blob}, {@code disk}, {@code key}, {@code image}, {@code ami},
   *     {@code snapshot}, {@code template}, {@code library-item}, {@code cache-entry}, …
   * @param id how its home names it: a digest, an AMI id with its region, a template path
   * @param bytes its size, 0 where unknown
   * @param reason why it went or stayed
   */
  public record Item(String kind, String id, long bytes, String reason) {
    public Item {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(reason, "reason");
    }
  }

  public RetentionReport {
    Objects.requireNonNull(scope, "scope");
    removed = List.copyOf(removed);
    kept = List.copyOf(kept);
  }

  /** The items removed of one kind. */
  public List<Item> removed(String kind) {
    List<Item> out = new ArrayList<>();
    for (Item i : removed) {
      if (i.kind().equals(kind)) {
        out.add(i);
      }
    }
    return out;
  }

  /** One line for a log: counts by outcome, bytes freed, time. */
  public String summary() {
    return scope
        + (dryRun ? ": would remove " : ": removed ")
        + removed.size()
        + " ("
        + bytesFreed / (1024 * 1024)
        + " MiB), kept "
        + kept.size()
        + " in "
        + millis
        + " ms";
  }
}
