package dev.kiln.vmware;

import dev.kiln.ImageStoreException;
import dev.kiln.RetentionReport;
import dev.kiln.vmware.auth.Credentials;
import dev.kiln.vmware.auth.TlsTrust;
import dev.kiln.vmware.internal.vsphere.ContentLibraryClient;
import dev.kiln.vmware.internal.vsphere.ManagedObject;
import dev.kiln.vmware.internal.vsphere.VsphereClient;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retention of the templates (or content library items) Kiln published in one folder (or library):
 * removes those that no keep rule keeps, and says why it kept the others.
 *
 * <pre>{@code
 * RetentionReport r =
 *     VsphereLifecycle.of(VsphereTarget.parse("vsphere://vc.example/DC/vm/templates/web-42?datastore=ds1&pool=C1"))
 *         .credentials(Credentials.fromEnvironment())
 *         .keepNewest(3)
 *         .keepYoungerThan(Duration.ofDays(30))
 *         .dryRun(true)
 *         .run("web-*");
 * }</pre>
 *
 * <p>The target says where to look: its folder in template mode, its library in library mode (its
 * own name does not matter). A vSphere template or item has one fixed name, so the versions of an
 * image are published under several names ({@code web-41}, {@code web-42}); {@link #run} takes a
 * pattern of names ({@code *} any characters, {@code ?} one). Only what Kiln published is looked
 * at: templates whose notes (items whose description) end with a {@code Kiln-Image-Digest} line;
 * VMs, subfolders, unfinished uploads and everything else stay untouched and unlisted.
 *
 * <p>Templates are ranked by the {@code Kiln-Published} time Kiln writes into their notes; a
 * template without one (published by an earlier Kiln) is kept, "publication time unknown". Items
 * are ranked by their creation time in the library. A template or item is kept when it is among the
 * newest {@link #keepNewest k} or younger than {@link #keepYoungerThan age}; with both rules, only
 * what neither keeps goes. Templates are destroyed ({@code Destroy_Task}), items deleted with their
 * files. Clones of a template are full VMs and do not depend on it.
 *
 * <p>Immutable and thread-safe; each run opens its own session.
 */
public final class VsphereLifecycle {
  private static final Logger log = LoggerFactory.getLogger(VsphereLifecycle.class);

  private final VsphereTarget target;
  private final Credentials credentials; // null: from the environment, when running
  private final TlsTrust trust;
  private final Optional<Integer> keepNewest;
  private final Optional<Duration> keepYoungerThan;
  private final boolean dryRun;
  private final Duration timeout;
  private final Clock clock;

  private VsphereLifecycle(
      VsphereTarget target,
      Credentials credentials,
      TlsTrust trust,
      Optional<Integer> keepNewest,
      Optional<Duration> keepYoungerThan,
      boolean dryRun,
      Duration timeout,
      Clock clock) {
    this.target = target;
    this.credentials = credentials;
    this.trust = trust;
    this.keepNewest = keepNewest;
    this.keepYoungerThan = keepYoungerThan;
    this.dryRun = dryRun;
    this.timeout = timeout;
    this.clock = clock;
  }

  /**
   * Retention in the folder or library of {@code target}, with credentials from the environment,
   * the target's TLS trust, and no keep rule yet: give at least one before {@link #run}.
   */
  public static VsphereLifecycle of(VsphereTarget target) {
    return new VsphereLifecycle(
        Objects.requireNonNull(target),
        null,
        target.trust(),
        Optional.empty(),
        Optional.empty(),
        false,
        Duration.ofMinutes(30),
        Clock.systemUTC());
  }

  /** A copy that logs in with {@code credentials}. */
  public VsphereLifecycle credentials(Credentials credentials) {
    return new VsphereLifecycle(
        target,
        Objects.requireNonNull(credentials),
        trust,
        keepNewest,
        keepYoungerThan,
        dryRun,
        timeout,
        clock);
  }

  /** A copy that trusts vCenter's certificate as {@code trust} says. */
  public VsphereLifecycle trust(TlsTrust trust) {
    return new VsphereLifecycle(
        target,
        credentials,
        Objects.requireNonNull(trust),
        keepNewest,
        keepYoungerThan,
        dryRun,
        timeout,
        clock);
  }

  /** A copy that keeps the {@code k} newest (0: none by this rule). */
  public VsphereLifecycle keepNewest(int k) {
    if (k < 0) {
      throw new IllegalArgumentException("keepNewest must be 0 or more, found " + k);
    }
    return new VsphereLifecycle(
        target, credentials, trust, Optional.of(k), keepYoungerThan, dryRun, timeout, clock);
  }

  /** A copy that keeps what is younger than {@code age}. */
  public VsphereLifecycle keepYoungerThan(Duration age) {
    if (age.isNegative()) {
      throw new IllegalArgumentException("keepYoungerThan must not be negative, found " + age);
    }
    return new VsphereLifecycle(
        target, credentials, trust, keepNewest, Optional.of(age), dryRun, timeout, clock);
  }

  /** A copy that, when {@code dryRun}, only reports what would be removed. */
  public VsphereLifecycle dryRun(boolean dryRun) {
    return new VsphereLifecycle(
        target, credentials, trust, keepNewest, keepYoungerThan, dryRun, timeout, clock);
  }

  /** A copy that waits at most {@code timeout} for each Destroy_Task. */
  public VsphereLifecycle timeout(Duration timeout) {
    return new VsphereLifecycle(
        target,
        credentials,
        trust,
        keepNewest,
        keepYoungerThan,
        dryRun,
        Objects.requireNonNull(timeout),
        clock);
  }

  /** A copy that tells the time by {@code clock}. */
  VsphereLifecycle clock(Clock clock) {
    return new VsphereLifecycle(
        target,
        credentials,
        trust,
        keepNewest,
        keepYoungerThan,
        dryRun,
        timeout,
        Objects.requireNonNull(clock));
  }

  /** One template or item Kiln published: report id, vSphere id, publication time, size. */
  record Candidate(String id, String handle, Optional<Instant> time, long bytes) {}

  /**
   * Applies the rules to the templates (or items) whose names match {@code pattern}.
   *
   * @throws IllegalStateException when no keep rule was given
   * @throws ImageStoreException when vSphere fails; the message says what was already removed
   */
  public RetentionReport run(String pattern) throws ImageStoreException {
    if (pattern == null || pattern.isBlank()) {
      throw new IllegalArgumentException("the name pattern is empty");
    }
    if (keepNewest.isEmpty() && keepYoungerThan.isEmpty()) {
      throw new IllegalStateException(
          "say what to keep: keepNewest(k) and/or keepYoungerThan(age); without either, every"
              + " template matching "
              + pattern
              + " would go");
    }
    Pattern names = glob(pattern);
    long t0 = System.nanoTime();
    boolean templates = target.mode() == VsphereTarget.Mode.TEMPLATE;
    String scope =
        "vsphere "
            + target.host()
            + (templates ? target.folderPath() : " library " + target.library().orElseThrow())
            + " "
            + pattern;
    List<RetentionReport.Item> removed = new ArrayList<>();
    List<RetentionReport.Item> kept = new ArrayList<>();
    long bytes = 0;
    try {
      if (templates) {
        try (VsphereClient vc = VsphereClient.connect(target.host(), credentials(), trust)) {
          List<Candidate> found = templates(vc, names);
          for (Decision d : decide(found, kept, "template")) {
            if (!dryRun) {
              log.info("destroying template {} ({}): {}", d.c.id, d.c.handle, d.reason);
              vc.destroy(new ManagedObject("VirtualMachine", d.c.handle), timeout);
            }
            removed.add(new RetentionReport.Item("template", d.c.id, d.c.bytes, d.reason));
          }
        }
      } else {
        try (ContentLibraryClient cl =
            ContentLibraryClient.connect(target.host(), credentials(), trust)) {
          List<Candidate> found = items(cl, names);
          for (Decision d : decide(found, kept, "library-item")) {
            if (!dryRun) {
              log.info("deleting library item {} ({}): {}", d.c.id, d.c.handle, d.reason);
              cl.deleteItem(d.c.handle);
            }
            removed.add(new RetentionReport.Item("library-item", d.c.id, d.c.bytes, d.reason));
            bytes += d.c.bytes;
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      String done =
          dryRun || removed.isEmpty()
              ? "nothing was removed"
              : "already removed: "
                  + String.join(", ", removed.stream().map(RetentionReport.Item::id).toList());
      throw new ImageStoreException(
          target.toString(), "retention failed: " + e.getMessage() + "; " + done, e);
    }
    RetentionReport report =
        new RetentionReport(
            scope, dryRun, removed, kept, bytes, (System.nanoTime() - t0) / 1_000_000);
    log.info("{}", report.summary());
    return report;
  }

  private List<Candidate> templates(VsphereClient vc, Pattern names) throws IOException {
    String folderPath = target.folderPath();
    Optional<ManagedObject> folder = vc.findByInventoryPath(folderPath);
    if (folder.isEmpty() || !folder.get().type().equals("Folder")) {
      throw new IOException("no folder at inventory path " + folderPath);
    }
    List<Candidate> out = new ArrayList<>();
    for (ManagedObject o : vc.childEntities(folder.get())) {
      if (!o.type().equals("VirtualMachine")) {
        continue;
      }
      Map<String, String> p = vc.properties(o, "name", "config.template", "config.annotation");
      String name = p.getOrDefault("name", "");
      String notes = p.getOrDefault("config.annotation", "");
      if (!names.matcher(name).matches()
          || !Boolean.parseBoolean(p.get("config.template"))
          || DigestNote.find(notes).isEmpty()) {
        continue;
      }
      out.add(new Candidate(folderPath + "/" + name, o.value(), DigestNote.published(notes), 0));
    }
    return out;
  }

  private List<Candidate> items(ContentLibraryClient cl, Pattern names) throws IOException {
    String library = target.library().orElseThrow();
    List<String> libraries = cl.findLibraries(library);
    if (libraries.size() > 1) {
      throw new IOException(libraries.size() + " content libraries are named " + library);
    }
    List<Candidate> out = new ArrayList<>();
    if (libraries.isEmpty()) {
      return out;
    }
    for (String id : cl.items(libraries.get(0))) {
      ContentLibraryClient.Item item = cl.item(id);
      if (!names.matcher(item.name()).matches() || DigestNote.find(item.description()).isEmpty()) {
        continue;
      }
      long size = 0;
      for (ContentLibraryClient.ItemFile f : cl.files(id)) {
        size += Math.max(0, f.size());
      }
      out.add(new Candidate(library + "/" + item.name(), id, item.created(), size));
    }
    return out;
  }

  /** A template or item to remove, and why. */
  record Decision(Candidate c, String reason) {}

  /** What goes, with why; what stays goes to {@code kept}. */
  List<Decision> decide(List<Candidate> found, List<RetentionReport.Item> kept, String kind) {
    List<Candidate> ranked = new ArrayList<>();
    for (Candidate c : found) {
      if (c.time.isEmpty()) {
        kept.add(new RetentionReport.Item(kind, c.id, c.bytes, "publication time unknown"));
      } else {
        ranked.add(c);
      }
    }
    ranked.sort(
        Comparator.comparing((Candidate c) -> c.time.get())
            .reversed()
            .thenComparing(Candidate::id));
    Instant now = clock.instant();
    List<String> go = new ArrayList<>();
    keepYoungerThan.ifPresent(a -> go.add("older than " + describe(a)));
    keepNewest.ifPresent(k -> go.add("not among the newest " + k));
    List<Decision> out = new ArrayList<>();
    for (int n = 0; n < ranked.size(); n++) {
      Candidate c = ranked.get(n);
      List<String> why = new ArrayList<>();
      if (keepNewest.isPresent() && n < keepNewest.get()) {
        why.add("newest " + keepNewest.get());
      }
      if (keepYoungerThan.isPresent() && c.time.get().isAfter(now.minus(keepYoungerThan.get()))) {
        why.add("younger than " + describe(keepYoungerThan.get()));
      }
      if (why.isEmpty()) {
        out.add(new Decision(c, String.join(", ", go)));
      } else {
        kept.add(new RetentionReport.Item(kind, c.id, c.bytes, String.join(", ", why)));
      }
    }
    return out;
  }

  private Credentials credentials() {
    return credentials != null ? credentials : Credentials.fromEnvironment();
  }

  static Pattern glob(String w) {
    StringBuilder r = new StringBuilder();
    for (char c : w.toCharArray()) {
      if (c == '*') {
        r.append(".*");
      } else if (c == '?') {
        r.append('.');
      } else {
        r.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(r.toString(), Pattern.DOTALL);
  }

  /** {@code 30 days}, {@code 12 hours}, or the ISO form. */
  static String describe(Duration d) {
    if (!d.isZero() && d.equals(Duration.ofDays(d.toDays()))) {
      return d.toDays() == 1 ? "1 day" : d.toDays() + " days";
    }
    if (!d.isZero() && d.equals(Duration.ofHours(d.toHours()))) {
      return d.toHours() == 1 ? "1 hour" : d.toHours() + " hours";
    }
    return d.toString();
  }
}
