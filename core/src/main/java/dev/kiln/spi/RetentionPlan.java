package dev.kiln.spi;

import dev.kiln.Digest;
import dev.kiln.RetentionReport;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The one rule by which every remote cache backend decides which of its entries {@link
 * RemoteCache#retain} keeps, so that a registry and a bucket given the same policy keep the same
 * entries. A backend lists its entries with their last use, asks {@link #decide}, deletes what goes
 * and reports with {@link #report}.
 */
public final class RetentionPlan {
  /** The {@link RetentionReport.Item#kind()} of an entry. */
  public static final String ENTRY = "cache-entry";

  /** The {@link RetentionReport.Item#kind()} of a blob. */
  public static final String BLOB = "blob";

  private RetentionPlan() {}

  /**
   * One entry as its backend lists it.
   *
   * @param blob the blob it names, if any
   * @param bytes the size of that blob, 0 without one
   * @param lastUsed when it was last used (written or read); empty when the backend has no record
   */
  public record Entry(
      String namespace, String key, Optional<Digest> blob, long bytes, Optional<Instant> lastUsed) {
    public Entry {
      Objects.requireNonNull(namespace, "namespace");
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(blob, "blob");
      Objects.requireNonNull(lastUsed, "lastUsed");
    }

    /** {@code NAMESPACE/KEY}, the id of its report item. */
    public String id() {
      return namespace + "/" + key;
    }
  }

  /** What happens to one entry, and why. */
  public record Decision(Entry entry, boolean remove, String reason) {
    /** Its line in the report. */
    public RetentionReport.Item item() {
      return new RetentionReport.Item(ENTRY, entry.id(), entry.bytes(), reason);
    }

    /** The same entry kept after all, for {@code reason} (its deletion was refused or failed). */
    public Decision keptBecause(String why) {
      return new Decision(entry, false, why);
    }
  }

  /**
   * Decides every entry: the most recently used first (ties by namespace and key, so a run is
   * repeatable), an entry goes when it was last used more than {@code unusedFor} before {@code
   * now}, or when keeping it would pass {@code maxEntries} or {@code maxBytes} (after the first
   * entry that does not fit, every less recently used one goes too: the cut is by last use only).
   * An entry without a recorded use counts as used {@code now}.
   */
  public static List<Decision> decide(
      List<Entry> entries, RemoteCache.Retention policy, Instant now) {
    List<Entry> order = new ArrayList<>(entries);
    order.sort(
        Comparator.comparing((Entry e) -> e.lastUsed().orElse(now))
            .reversed()
            .thenComparing(Entry::namespace)
            .thenComparing(Entry::key));
    Optional<Instant> cutoff = policy.unusedFor().map(now::minus);
    List<Decision> out = new ArrayList<>();
    Set<Digest> counted = new HashSet<>();
    long keptBytes = 0;
    long kept = 0;
    boolean full = false;
    for (Entry e : order) {
      Instant used = e.lastUsed().orElse(now);
      String when =
          e.lastUsed().isPresent()
              ? "last used " + e.lastUsed().get()
              : "no recorded use (written before uses were recorded): counted as used now";
      if (cutoff.isPresent() && used.isBefore(cutoff.get())) {
        out.add(
            new Decision(
                e, true, "unused for more than " + days(policy.unusedFor().get()) + "; " + when));
        continue;
      }
      long adds = e.blob().isPresent() && counted.contains(e.blob().get()) ? 0 : e.bytes();
      if (!full && kept >= policy.maxEntries()) {
        full = true;
      }
      if (!full && keptBytes + adds > policy.maxBytes()) {
        full = true;
      }
      if (full) {
        out.add(
            new Decision(
                e,
                true,
                "past the limit of "
                    + policy.maxEntries()
                    + " entries / "
                    + policy.maxBytes()
                    + " bytes, most recently used first; "
                    + when));
        continue;
      }
      kept++;
      keptBytes += adds;
      e.blob().ifPresent(counted::add);
      out.add(new Decision(e, false, "within the policy; " + when));
    }
    return out;
  }

  /**
   * The blobs that the removed entries name and no kept entry does: what dropping them frees (or
   * leaves to the backend's garbage collector).
   */
  public static Set<Digest> blobsFreed(List<Decision> decisions) {
    Set<Digest> kept = new HashSet<>();
    Set<Digest> freed = new TreeSet<>(Comparator.comparing(Digest::toString));
    for (Decision d : decisions) {
      if (!d.remove()) {
        d.entry().blob().ifPresent(kept::add);
      }
    }
    for (Decision d : decisions) {
      if (d.remove()) {
        d.entry().blob().filter(b -> !kept.contains(b)).ifPresent(freed::add);
      }
    }
    return freed;
  }

  /**
   * The report of a run that started at {@code startNanos} ({@link System#nanoTime()}): each
   * decision's entry, then the blob items the backend adds.
   */
  public static RetentionReport report(
      String scope,
      boolean dryRun,
      List<Decision> decisions,
      List<RetentionReport.Item> blobsRemoved,
      List<RetentionReport.Item> blobsKept,
      long bytesFreed,
      long startNanos) {
    List<RetentionReport.Item> removed = new ArrayList<>();
    List<RetentionReport.Item> kept = new ArrayList<>();
    for (Decision d : decisions) {
      (d.remove() ? removed : kept).add(d.item());
    }
    removed.addAll(blobsRemoved);
    kept.addAll(blobsKept);
    return new RetentionReport(
        scope, dryRun, removed, kept, bytesFreed, (System.nanoTime() - startNanos) / 1_000_000);
  }

  private static String days(Duration d) {
    return d.toHours() % 24 == 0 && d.toDays() > 0 ? d.toDays() + " days" : d.toString();
  }
}
