package dev.kiln.ec2;

import dev.kiln.ImageStoreException;
import dev.kiln.RetentionReport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.ImageState;
import software.amazon.awssdk.services.ec2.model.Snapshot;
import software.amazon.awssdk.services.ec2.model.Tag;

/**
 * Retention of the AMIs Kiln published under one name: deregisters the AMIs (and deletes their
 * snapshots) that no keep rule keeps, in every region given, and says why it kept the others.
 *
 * <pre>{@code
 * try (Ec2Clients clients = Ec2Clients.create(Ec2Target.parse("ec2://eu-west-1/web?copyTo=us-east-1"))) {
 *   RetentionReport r = Ec2Lifecycle.create(clients)     // eu-west-1 and us-east-1
 *       .keepNewest(3)
 *       .keepYoungerThan(Duration.ofDays(30))
 *       .dryRun(true)
 *       .run("web");
 *   r.removed().forEach(i -> log.info("would remove {} {}: {}", i.kind(), i.id(), i.reason()));
 * }
 * }</pre>
 *
 * <p>The AMIs of a name are those tagged {@code kiln:name=NAME} and {@code kiln:state=complete}
 * (what a bake left in progress is the sweep's, {@link Ec2Publisher#sweepAge}). The unit of
 * retention is the image: the AMI holding an image digest and its copies in other regions are
 * ranked together, by the creation date of the oldest of them. An image is kept when it is among
 * the newest {@link #keepNewest k} or younger than {@link #keepYoungerThan age}; with both rules,
 * only what neither keeps goes. Of the AMIs that would go, these are kept nonetheless:
 *
 * <ul>
 *   <li>an AMI shared with another account, organization or unit, or public, unless {@link
 *       #includeShared()};
 *   <li>an AMI that an instance (pending, running, stopping, stopped) was launched from, or that a
 *       version of a launch template names, unless {@link #force()}.
 * </ul>
 *
 * <p>The snapshots of a deregistered AMI are deleted, except one that another AMI (kept, or not
 * Kiln's) still uses. They are tagged {@code kiln:state=retired} before the AMI is deregistered, so
 * that a snapshot whose deletion fails is deleted by the next run instead of being orphaned. With
 * {@link #dryRun(boolean) dryRun(true)} nothing is changed and the report lists what would go.
 *
 * <p>Immutable and thread-safe; a run makes its calls one after the other.
 */
public final class Ec2Lifecycle {
  private static final Logger log = LoggerFactory.getLogger(Ec2Lifecycle.class);

  private final Ec2Clients clients;
  private final List<String> regions;
  private final Optional<Integer> keepNewest;
  private final Optional<Duration> keepYoungerThan;
  private final boolean includeShared;
  private final boolean force;
  private final boolean dryRun;
  private final Clock clock;

  private Ec2Lifecycle(
      Ec2Clients clients,
      List<String> regions,
      Optional<Integer> keepNewest,
      Optional<Duration> keepYoungerThan,
      boolean includeShared,
      boolean force,
      boolean dryRun,
      Clock clock) {
    this.clients = clients;
    this.regions = List.copyOf(regions);
    this.keepNewest = keepNewest;
    this.keepYoungerThan = keepYoungerThan;
    this.includeShared = includeShared;
    this.force = force;
    this.dryRun = dryRun;
    this.clock = clock;
  }

  /**
   * Retention over {@code clients} (which the caller closes), in the clients' region and the copy
   * regions of their target, with no keep rule yet: give at least one before {@link #run}.
   */
  public static Ec2Lifecycle create(Ec2Clients clients) {
    List<String> regions = new ArrayList<>();
    regions.add(clients.region());
    for (String r : clients.target().copyRegions()) {
      if (!regions.contains(r)) {
        regions.add(r);
      }
    }
    return new Ec2Lifecycle(
        clients,
        regions,
        Optional.empty(),
        Optional.empty(),
        false,
        false,
        false,
        Clock.systemUTC());
  }

  /** A copy that looks at these regions (instead of the target's region and copy regions). */
  public Ec2Lifecycle regions(String... regions) {
    if (regions.length == 0) {
      throw new IllegalArgumentException("give at least one region");
    }
    List<String> rs = new ArrayList<>();
    for (String r : regions) {
      if (r == null || r.isBlank()) {
        throw new IllegalArgumentException("a region is empty");
      }
      if (!rs.contains(r)) {
        rs.add(r);
      }
    }
    return new Ec2Lifecycle(
        clients, rs, keepNewest, keepYoungerThan, includeShared, force, dryRun, clock);
  }

  /** A copy that keeps the {@code k} newest images (0: none by this rule). */
  public Ec2Lifecycle keepNewest(int k) {
    if (k < 0) {
      throw new IllegalArgumentException("keepNewest must be 0 or more, found " + k);
    }
    return new Ec2Lifecycle(
        clients, regions, Optional.of(k), keepYoungerThan, includeShared, force, dryRun, clock);
  }

  /** A copy that keeps the images younger than {@code age}. */
  public Ec2Lifecycle keepYoungerThan(Duration age) {
    if (age.isNegative()) {
      throw new IllegalArgumentException("keepYoungerThan must not be negative, found " + age);
    }
    return new Ec2Lifecycle(
        clients, regions, keepNewest, Optional.of(age), includeShared, force, dryRun, clock);
  }

  /** A copy that also removes AMIs shared with other accounts, organizations, units, or public. */
  public Ec2Lifecycle includeShared() {
    return new Ec2Lifecycle(
        clients, regions, keepNewest, keepYoungerThan, true, force, dryRun, clock);
  }

  /** A copy that also removes AMIs instances run from or launch templates name. */
  public Ec2Lifecycle force() {
    return new Ec2Lifecycle(
        clients, regions, keepNewest, keepYoungerThan, includeShared, true, dryRun, clock);
  }

  /** A copy that, when {@code dryRun}, only reports what would be removed. */
  public Ec2Lifecycle dryRun(boolean dryRun) {
    return new Ec2Lifecycle(
        clients, regions, keepNewest, keepYoungerThan, includeShared, force, dryRun, clock);
  }

  /** A copy that tells the time by {@code clock}. */
  Ec2Lifecycle clock(Clock clock) {
    return new Ec2Lifecycle(
        clients,
        regions,
        keepNewest,
        keepYoungerThan,
        includeShared,
        force,
        dryRun,
        Objects.requireNonNull(clock));
  }

  /** One AMI of the name in one region. */
  private record Candidate(String region, Image image, String digest, Instant created) {
    String label() {
      return image.imageId() + " (" + region + ")";
    }
  }

  /**
   * Applies the rules to the AMIs published under {@code name} (the name of the {@code
   * ec2://REGION/NAME} target).
   *
   * @throws IllegalStateException when no keep rule was given
   * @throws ImageStoreException when a call fails; the message says what was already removed
   */
  public RetentionReport run(String name) throws ImageStoreException {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("the name is empty");
    }
    if (name.contains("*") || name.contains("?")) {
      // EC2 filters read * and ? as wildcards; no Kiln name holds them
      throw new IllegalArgumentException(
          "'" + name + "' is not the name of an ec2:// target: names hold no * or ?");
    }
    if (keepNewest.isEmpty() && keepYoungerThan.isEmpty()) {
      throw new IllegalStateException(
          "say what to keep: keepNewest(k) and/or keepYoungerThan(age); without either, every AMI"
              + " of "
              + name
              + " would go");
    }
    long t0 = System.nanoTime();
    String scope = "ec2 " + String.join(",", regions) + " " + name;
    List<RetentionReport.Item> removed = new ArrayList<>();
    List<RetentionReport.Item> kept = new ArrayList<>();
    long[] bytes = {0};
    try {
      List<Candidate> all = new ArrayList<>();
      for (String r : regions) {
        for (Image i : images(ec2(r), name)) {
          all.add(new Candidate(r, i, digestOf(i), created(i)));
        }
      }
      Map<String, String> keptImages = rank(all);
      for (String r : regions) {
        List<Candidate> here = all.stream().filter(c -> c.region.equals(r)).toList();
        retainRegion(r, name, here, keptImages, removed, kept, bytes);
      }
    } catch (AbortedException e) {
      Thread.currentThread().interrupt();
      throw failure(scope, "interrupted", removed, e);
    } catch (RuntimeException e) {
      throw failure(scope, EbsSnapshotUploader.describeError(e), removed, e);
    }
    RetentionReport report =
        new RetentionReport(
            scope, dryRun, removed, kept, bytes[0], (System.nanoTime() - t0) / 1_000_000);
    log.info("{}", report.summary());
    return report;
  }

  /** Image digest to the reason it is kept, for the images the rules keep. */
  private Map<String, String> rank(List<Candidate> all) {
    Map<String, Instant> firstSeen = new LinkedHashMap<>();
    for (Candidate c : all) {
      firstSeen.merge(c.digest, c.created, (a, b) -> a.isBefore(b) ? a : b);
    }
    List<String> order = new ArrayList<>(firstSeen.keySet());
    order.sort(
        Comparator.comparing((String d) -> firstSeen.get(d))
            .reversed()
            .thenComparing(Comparator.naturalOrder()));
    Instant now = clock.instant();
    Map<String, String> keep = new LinkedHashMap<>();
    for (int n = 0; n < order.size(); n++) {
      String d = order.get(n);
      List<String> why = new ArrayList<>();
      if (keepNewest.isPresent() && n < keepNewest.get()) {
        why.add("newest " + keepNewest.get());
      }
      if (keepYoungerThan.isPresent()
          && firstSeen.get(d).isAfter(now.minus(keepYoungerThan.get()))) {
        why.add("younger than " + describe(keepYoungerThan.get()));
      }
      if (!why.isEmpty()) {
        keep.put(d, String.join(", ", why));
      }
    }
    return keep;
  }

  private String goReason() {
    List<String> why = new ArrayList<>();
    keepYoungerThan.ifPresent(a -> why.add("older than " + describe(a)));
    keepNewest.ifPresent(k -> why.add("not among the newest " + k));
    return String.join(", ", why);
  }

  private void retainRegion(
      String region,
      String name,
      List<Candidate> here,
      Map<String, String> keptImages,
      List<RetentionReport.Item> removed,
      List<RetentionReport.Item> kept,
      long[] bytes) {
    Ec2Client ec2 = ec2(region);
    // snapshots an earlier run retired but could not delete
    for (Snapshot s : retiredSnapshots(ec2, name)) {
      String label = s.snapshotId() + " (" + region + ")";
      Optional<String> user = Ec2Uses.otherUser(ec2, s.snapshotId(), Set.of());
      if (user.isPresent()) {
        kept.add(item("snapshot", label, "snapshot used by kept " + user.get()));
        continue;
      }
      long size = s.fullSnapshotSizeInBytes() == null ? 0 : s.fullSnapshotSizeInBytes();
      if (!dryRun && !delete(ec2, s.snapshotId(), label, kept)) {
        continue;
      }
      removed.add(
          new RetentionReport.Item(
              "snapshot", label, size, "retired by an earlier run that could not delete it"));
      bytes[0] += size;
    }
    List<Candidate> go = new ArrayList<>();
    for (Candidate c : here) {
      String keep = keptImages.get(c.digest);
      if (keep != null) {
        kept.add(item("ami", c.label(), keep));
      } else if (c.image.state() != ImageState.AVAILABLE) {
        kept.add(item("ami", c.label(), "state " + c.image.stateAsString()));
      } else {
        go.add(c);
      }
    }
    if (go.isEmpty()) {
      return;
    }
    Map<String, List<String>> protections = new LinkedHashMap<>();
    if (!includeShared) {
      for (Candidate c : go) {
        Ec2Uses.shared(ec2, c.image)
            .ifPresent(
                s -> protections.computeIfAbsent(c.image.imageId(), k -> new ArrayList<>()).add(s));
      }
    }
    if (!force) {
      Map<String, List<String>> instances =
          Ec2Uses.instances(ec2, go.stream().map(c -> c.image.imageId()).toList());
      Map<String, List<String>> templates = Ec2Uses.launchTemplates(ec2);
      for (Candidate c : go) {
        List<String> i = instances.getOrDefault(c.image.imageId(), List.of());
        if (!i.isEmpty()) {
          protections
              .computeIfAbsent(c.image.imageId(), k -> new ArrayList<>())
              .add("used by instance " + few(i));
        }
        List<String> t = templates.getOrDefault(c.image.imageId(), List.of());
        if (!t.isEmpty()) {
          protections
              .computeIfAbsent(c.image.imageId(), k -> new ArrayList<>())
              .add("in launch template " + few(t));
        }
      }
    }
    String why = goReason();
    List<Candidate> deregister = new ArrayList<>();
    for (Candidate c : go) {
      List<String> p = protections.get(c.image.imageId());
      if (p != null) {
        kept.add(item("ami", c.label(), String.join("; ", p)));
      } else {
        deregister.add(c);
      }
    }
    Set<String> leaving = new HashSet<>();
    deregister.forEach(c -> leaving.add(c.image.imageId()));
    // first every AMI, then the snapshots: two AMIs that go may share one
    Map<String, Candidate> snapshots = new LinkedHashMap<>();
    for (Candidate c : deregister) {
      List<String> delete = new ArrayList<>();
      for (String snap : snapshotsOf(c.image)) {
        if (snapshots.containsKey(snap)) {
          continue;
        }
        Optional<String> user = Ec2Uses.otherUser(ec2, snap, leaving);
        if (user.isPresent()) {
          kept.add(
              item("snapshot", snap + " (" + region + ")", "snapshot used by kept " + user.get()));
        } else {
          delete.add(snap);
          snapshots.put(snap, c);
        }
      }
      if (!dryRun) {
        log.info("deregistering {} ({}, {}): {}", c.label(), c.image.name(), c.digest, why);
        deregister(ec2, c.image.imageId(), name, delete);
      }
      removed.add(item("ami", c.label(), why));
    }
    for (Map.Entry<String, Candidate> e : snapshots.entrySet()) {
      String label = e.getKey() + " (" + region + ")";
      long size = size(ec2, e.getKey());
      if (!dryRun && !delete(ec2, e.getKey(), label, kept)) {
        continue;
      }
      removed.add(new RetentionReport.Item("snapshot", label, size, "of " + e.getValue().label()));
      bytes[0] += size;
    }
  }

  /**
   * Marks the snapshots retired (so that a later run finds them should their deletion fail), then
   * deregisters the AMI; if that fails, the snapshots are marked complete again.
   */
  private static void deregister(
      Ec2Client ec2, String imageId, String name, List<String> snapshots) {
    if (!snapshots.isEmpty()) {
      ec2.createTags(
          b ->
              b.resources(snapshots)
                  .tags(
                      Tag.builder().key(KilnTags.STATE).value(KilnTags.RETIRED).build(),
                      Tag.builder().key(KilnTags.NAME).value(name).build()));
    }
    try {
      ec2.deregisterImage(b -> b.imageId(imageId));
    } catch (RuntimeException e) {
      if (!snapshots.isEmpty()) {
        try {
          ec2.createTags(
              b ->
                  b.resources(snapshots)
                      .tags(Tag.builder().key(KilnTags.STATE).value(KilnTags.COMPLETE).build()));
        } catch (RuntimeException x) {
          e.addSuppressed(x);
        }
      }
      throw e;
    }
  }

  /** Deletes a snapshot; false (and a kept item) when EC2 says an AMI uses it. */
  private static boolean delete(
      Ec2Client ec2, String snapshotId, String label, List<RetentionReport.Item> kept) {
    try {
      log.info("deleting snapshot {}", label);
      Snapshots.delete(ec2, snapshotId);
      return true;
    } catch (AwsServiceException e) {
      if (!Ec2Clients.errorCode(e).equals("InvalidSnapshot.InUse")) {
        throw e;
      }
      kept.add(item("snapshot", label, "in use: " + e.awsErrorDetails().errorMessage()));
      return false;
    }
  }

  /** Snapshots of the name tagged retired. */
  private static List<Snapshot> retiredSnapshots(Ec2Client ec2, String name) {
    return Ec2Pages.snapshots(
            ec2,
            b ->
                b.ownerIds("self")
                    .filters(
                        AmiRegistrar.filter("tag:" + KilnTags.NAME, name),
                        AmiRegistrar.filter("tag:" + KilnTags.STATE, KilnTags.RETIRED)))
        .stream()
        // exactly this name and state, whatever the filter matched
        .filter(s -> name.equals(AmiRegistrar.tag(s.tags(), KilnTags.NAME)))
        .filter(s -> KilnTags.RETIRED.equals(AmiRegistrar.tag(s.tags(), KilnTags.STATE)))
        .toList();
  }

  /** The size EC2 reports for a snapshot's data, 0 where it reports none. */
  private static long size(Ec2Client ec2, String snapshotId) {
    try {
      for (Snapshot s : ec2.describeSnapshots(b -> b.snapshotIds(snapshotId)).snapshots()) {
        if (s.fullSnapshotSizeInBytes() != null) {
          return s.fullSnapshotSizeInBytes();
        }
      }
    } catch (AwsServiceException e) {
      if (!Ec2Clients.errorCode(e).startsWith("InvalidSnapshot.NotFound")) {
        throw e;
      }
    }
    return 0;
  }

  private static List<String> snapshotsOf(Image i) {
    List<String> out = new ArrayList<>();
    for (BlockDeviceMapping m : i.blockDeviceMappings()) {
      if (m.ebs() != null && m.ebs().snapshotId() != null && !out.contains(m.ebs().snapshotId())) {
        out.add(m.ebs().snapshotId());
      }
    }
    return out;
  }

  private static List<Image> images(Ec2Client ec2, String name) {
    return Ec2Pages.images(
            ec2,
            b ->
                b.owners("self")
                    .filters(
                        AmiRegistrar.filter("tag:" + KilnTags.NAME, name),
                        AmiRegistrar.filter("tag:" + KilnTags.STATE, KilnTags.COMPLETE)))
        .stream()
        // exactly this name and state, whatever the filter matched
        .filter(i -> name.equals(AmiRegistrar.tag(i.tags(), KilnTags.NAME)))
        .filter(i -> KilnTags.COMPLETE.equals(AmiRegistrar.tag(i.tags(), KilnTags.STATE)))
        .toList();
  }

  private Ec2Client ec2(String region) {
    return clients.ec2(region);
  }

  private static String digestOf(Image i) {
    String d = AmiRegistrar.tag(i.tags(), KilnTags.DIGEST);
    return d != null ? d : i.imageId();
  }

  private static Instant created(Image i) {
    try {
      return i.creationDate() == null ? Instant.EPOCH : Instant.parse(i.creationDate());
    } catch (DateTimeParseException e) {
      return Instant.EPOCH;
    }
  }

  private static RetentionReport.Item item(String kind, String id, String reason) {
    return new RetentionReport.Item(kind, id, 0, reason);
  }

  private static String few(List<String> ids) {
    if (ids.size() <= 3) {
      return String.join(", ", ids);
    }
    return String.join(", ", ids.subList(0, 3)) + " and " + (ids.size() - 3) + " more";
  }

  /** {@code 30 days}, {@code 12 hours}, or the ISO form. */
  static String describe(Duration d) {
    if (!d.isZero() && d.toHours() % 24 == 0 && d.equals(Duration.ofDays(d.toDays()))) {
      return d.toDays() == 1 ? "1 day" : d.toDays() + " days";
    }
    if (!d.isZero() && d.equals(Duration.ofHours(d.toHours()))) {
      return d.toHours() == 1 ? "1 hour" : d.toHours() + " hours";
    }
    return d.toString();
  }

  private ImageStoreException failure(
      String scope, String what, List<RetentionReport.Item> removed, Exception e) {
    String done =
        dryRun || removed.isEmpty()
            ? "nothing was removed"
            : "already removed: "
                + String.join(", ", removed.stream().map(i -> i.kind() + " " + i.id()).toList());
    return new ImageStoreException(scope, "retention failed: " + what + "; " + done, e);
  }
}
