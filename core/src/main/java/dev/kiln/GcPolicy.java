package dev.kiln;

import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;

/**
 * What the local store's garbage collection may remove ({@link Kiln#gc}, {@code
 * Kiln.builder().gc(…)}; {@code docs/lifecycle.md}). Immutable: every setter returns a new policy.
 *
 * <pre>{@code
 * kiln.gc(GcPolicy.of().maxBytes(20L << 30).unusedFor(Duration.ofDays(14)).keepLast(3).pin(release));
 * }</pre>
 *
 * <p>The store holds images (an {@code index.json} entry with its image record and manifest), key
 * entries (a layer found by its cache key) and cached disks. A collection removes, least recently
 * used first, those no rule keeps; then every blob nothing left refers to. A blob a running bake
 * uses, in this process or another, is never removed. Images that are pinned, recent, or among the
 * last {@code n} of their name are kept with the key entries and disks of their layers, so they
 * bake again without provisioning. Without any limit a collection only removes what nothing refers
 * to: blobs no image or key names (older than {@link #grace}) and key entries whose blob is gone.
 */
public final class GcPolicy {
  /**
   * System property that, set to {@code false}, turns the automatic collection after a bake off.
   */
  public static final String PROPERTY = "kiln.gc";

  private static final Duration DEFAULT_GRACE = Duration.ofHours(1);
  private static final Duration DEFAULT_UNUSED = Duration.ofDays(30);

  private final boolean enabled;
  private final long maxBytes;
  private final Duration unusedFor;
  private final int keepLast;
  private final Set<Digest> pinned;
  private final Duration keepRecent;
  private final boolean dryRun;
  private final Duration grace;

  private GcPolicy(
      boolean enabled,
      long maxBytes,
      Duration unusedFor,
      int keepLast,
      Set<Digest> pinned,
      Duration keepRecent,
      boolean dryRun,
      Duration grace) {
    this.enabled = enabled;
    this.maxBytes = maxBytes;
    this.unusedFor = unusedFor;
    this.keepLast = keepLast;
    this.pinned = Set.copyOf(pinned);
    this.keepRecent = keepRecent;
    this.dryRun = dryRun;
    this.grace = grace;
  }

  /** No limit: removes only what nothing refers to. Add limits with the setters. */
  public static GcPolicy of() {
    return new GcPolicy(true, -1, null, -1, Set.of(), null, false, DEFAULT_GRACE);
  }

  /** No automatic collection after a bake ({@code Kiln.builder().gc(GcPolicy.none())}). */
  public static GcPolicy none() {
    return new GcPolicy(false, -1, null, -1, Set.of(), null, false, DEFAULT_GRACE);
  }

  /**
   * What a Kiln collects after its bakes unless told otherwise: what has not been used for 30 days
   * (checked at most once a day per store).
   */
  public static GcPolicy defaults() {
    return of().unusedFor(DEFAULT_UNUSED);
  }

  /** Removes the least recently used until the store holds at most {@code bytes}. */
  public GcPolicy maxBytes(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("maxBytes must not be negative, found " + bytes);
    }
    return new GcPolicy(true, bytes, unusedFor, keepLast, pinned, keepRecent, dryRun, grace);
  }

  /** Removes what has not been used (baked, hit, published) for longer than {@code age}. */
  public GcPolicy unusedFor(Duration age) {
    return new GcPolicy(
        true, maxBytes, positive(age, "unusedFor"), keepLast, pinned, keepRecent, dryRun, grace);
  }

  /**
   * Keeps the {@code n} most recently used images of each name: a name the image has in the store
   * ({@link Kiln#tag}) or a target it was published to, as written.
   */
  public GcPolicy keepLast(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("keepLast must not be negative, found " + n);
    }
    return new GcPolicy(true, maxBytes, unusedFor, n, pinned, keepRecent, dryRun, grace);
  }

  /** Never removes these images (manifest or image index digests), nor their layers' keys. */
  public GcPolicy pin(Digest... images) {
    Set<Digest> p = new LinkedHashSet<>(pinned);
    for (Digest d : images) {
      p.add(Objects.requireNonNull(d, "a pinned digest"));
    }
    return new GcPolicy(true, maxBytes, unusedFor, keepLast, p, keepRecent, dryRun, grace);
  }

  /** Keeps every image baked or published within {@code age}. */
  public GcPolicy keepRecent(Duration age) {
    return new GcPolicy(
        true, maxBytes, unusedFor, keepLast, pinned, positive(age, "keepRecent"), dryRun, grace);
  }

  /** Lists what would be removed, and removes nothing. */
  public GcPolicy dryRun() {
    return new GcPolicy(true, maxBytes, unusedFor, keepLast, pinned, keepRecent, true, grace);
  }

  /**
   * How old a blob that nothing refers to must be before it is removed (default one hour): such a
   * blob may be one a process of an earlier Kiln version, which does not announce what it uses, has
   * just written.
   */
  public GcPolicy grace(Duration age) {
    Objects.requireNonNull(age, "grace");
    if (age.isNegative()) {
      throw new IllegalArgumentException("grace must not be negative, found " + age);
    }
    return new GcPolicy(true, maxBytes, unusedFor, keepLast, pinned, keepRecent, dryRun, age);
  }

  private static Duration positive(Duration d, String what) {
    Objects.requireNonNull(d, what);
    if (d.isNegative()) {
      throw new IllegalArgumentException(what + " must not be negative, found " + d);
    }
    return d;
  }

  /** False for {@link #none()}. */
  public boolean enabled() {
    return enabled;
  }

  public OptionalLong maxBytes() {
    return maxBytes < 0 ? OptionalLong.empty() : OptionalLong.of(maxBytes);
  }

  public Optional<Duration> unusedFor() {
    return Optional.ofNullable(unusedFor);
  }

  public OptionalInt keepLast() {
    return keepLast < 0 ? OptionalInt.empty() : OptionalInt.of(keepLast);
  }

  public Set<Digest> pinned() {
    return pinned;
  }

  public Optional<Duration> keepRecent() {
    return Optional.ofNullable(keepRecent);
  }

  public boolean isDryRun() {
    return dryRun;
  }

  public Duration grace() {
    return grace;
  }

  @Override
  public String toString() {
    if (!enabled) {
      return "GcPolicy.none()";
    }
    StringBuilder sb = new StringBuilder("GcPolicy.of()");
    maxBytes().ifPresent(b -> sb.append(".maxBytes(").append(b).append(')'));
    unusedFor().ifPresent(d -> sb.append(".unusedFor(").append(d).append(')'));
    keepLast().ifPresent(n -> sb.append(".keepLast(").append(n).append(')'));
    if (!pinned.isEmpty()) {
      sb.append(".pin(").append(Arrays.toString(pinned.toArray())).append(')');
    }
    keepRecent().ifPresent(d -> sb.append(".keepRecent(").append(d).append(')'));
    if (dryRun) {
      sb.append(".dryRun()");
    }
    return sb.toString();
  }
}
