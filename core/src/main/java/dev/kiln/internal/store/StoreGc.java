package dev.kiln.internal.store;

import dev.kiln.GcPolicy;
import dev.kiln.RetentionReport;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local store's garbage collection ({@code docs/lifecycle.md}, "The local store").
 *
 * <p>It looks at the store without a lock (a scan), decides what goes (a plan), then, under the
 * exclusive side of {@code locks/gc.lock} and the index lock, checks the plan against what changed
 * meanwhile and deletes: what a live session leases, a key entry or image record touched or written
 * since the scan, an image named since, and every blob something written since refers to, stay.
 * Deletions go references first: image records, then {@code index.json} entries, key entries, disk
 * infos, and only then blobs, disks and chunk indexes, so a collection killed at any point leaves
 * blobs nothing refers to, never a reference to a missing blob.
 *
 * <p>Each phase is a class of its own: {@link GcScan} (what the store holds and what refers to
 * what), {@link GcPlan} (what the policy removes, and why), {@link GcSweep} (the locked check and
 * the deletes); this class runs them and writes the report.
 */
final class StoreGc {
  private static final Logger log = LoggerFactory.getLogger(StoreGc.class);

  private final LocalStore store;
  private final Path root;
  private final StoreLeases leases;
  private final VerifiedBlobs verified;
  private final StoreIndex index;

  StoreGc(LocalStore store, StoreLeases leases, VerifiedBlobs verified, StoreIndex index) {
    this.store = store;
    this.root = store.root();
    this.leases = leases;
    this.verified = verified;
    this.index = index;
  }

  RetentionReport run(GcPolicy policy) throws IOException {
    long start = System.nanoTime();
    long now = System.currentTimeMillis();
    if (!policy.isDryRun() && store.rebuildUnreadableIndex()) {
      log.warn("index.json of the store {} did not read: rebuilt from the image records", root);
    }
    GcScan scan = new GcScan(store);
    scan.scan();
    GcPlan plan = new GcPlan(scan);
    plan.plan(policy, now);
    if (!policy.isDryRun() && plan.any()) {
      new GcSweep(store, leases, verified, index, scan, plan).execute();
    }
    List<RetentionReport.Item> removed = new ArrayList<>();
    long freed = 0;
    for (Map.Entry<String, String> e : plan.removeImages.entrySet()) {
      removed.add(new RetentionReport.Item("image", "sha256:" + e.getKey(), 0, e.getValue()));
    }
    for (Map.Entry<String, String> e : plan.removeKeys.entrySet()) {
      removed.add(new RetentionReport.Item("key", "sha256:" + e.getKey(), 0, e.getValue()));
    }
    for (Map.Entry<String, String> e : plan.removeDisks.entrySet()) {
      long b = scan.disks.get(e.getKey()).bytes();
      freed += b;
      removed.add(new RetentionReport.Item("disk", "sha256:" + e.getKey(), b, e.getValue()));
    }
    for (Map.Entry<String, String> e : plan.removeBlobs.entrySet()) {
      long b = scan.blobs.get(e.getKey()).bytes();
      freed += b;
      removed.add(new RetentionReport.Item("blob", "sha256:" + e.getKey(), b, e.getValue()));
    }
    RetentionReport r =
        new RetentionReport(
            "store " + root,
            policy.isDryRun(),
            removed,
            plan.kept,
            freed,
            (System.nanoTime() - start) / 1_000_000);
    log.info("garbage collection of {}", r.summary());
    return r;
  }

  /**
   * Whether a periodic collection of the store at {@code root} is due ({@link
   * LocalStore#periodicGcDue}).
   */
  static boolean periodicDue(Path root, Duration interval) throws IOException {
    Path marker = root.resolve("stat").resolve("gc");
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(marker, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      for (String dir : new String[] {"keys", "records", "disks"}) {
        Path d = root.resolve(dir);
        if (Files.isDirectory(d)) {
          try (DirectoryStream<Path> ds = Files.newDirectoryStream(d, "*.json")) {
            ds.forEach(StoreFiles::touch);
          }
        }
      }
      Files.write(marker, new byte[0]);
      return false;
    }
    if (!a.isRegularFile()) {
      // not a stamp Kiln wrote (a directory, a link): it says nothing, and nothing is written
      // through it; a stamp takes its place and the collection runs
      log.warn("{} is not a file: replacing it, and collecting", marker);
      if (a.isDirectory()) {
        StoreFiles.deleteTree(marker);
      } else {
        Files.deleteIfExists(marker);
      }
    } else {
      // a stamp more than an interval in the future (a clock set back, a store copied from a
      // machine ahead) would stop the periodic collection until the clock gets there: it is due
      long elapsed = System.currentTimeMillis() - a.lastModifiedTime().toMillis();
      if (elapsed < interval.toMillis() && elapsed > -interval.toMillis()) {
        return false;
      }
    }
    Files.write(marker, new byte[0]);
    StoreFiles.touch(marker);
    return true;
  }

  /** The bytes of the blobs and disks under {@code root}, by their sizes. */
  static long size(Path root) throws IOException {
    long total = 0;
    for (Path dir : List.of(root.resolve("blobs").resolve("sha256"), root.resolve("disks"))) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        for (Path p : ds) {
          try {
            total +=
                Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                    .size();
          } catch (NoSuchFileException e) {
            // removed meanwhile
          }
        }
      } catch (NoSuchFileException e) {
        // no disks
      }
    }
    return total;
  }
}
