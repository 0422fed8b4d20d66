package dev.kiln.ec2;

import com.google.common.collect.ImmutableMap;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What one {@link EbsSnapshotUploader#upload} writes: a local raw disk, optionally over a parent
 * snapshot whose content is known locally, with the snapshot's description, tags and idempotency
 * token.
 *
 * <pre>{@code
 * SnapshotUpload.of(Path.of("app.raw"))
 *     .parent("snap-0123456789abcdef0", Path.of("base.raw"))
 *     .description("kiln sha256:...")
 *     .tag("kiln:key", key);
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
final class SnapshotUpload {
  private final Path disk;
  private final Optional<ParentSnapshot> parent;
  private final String description;
  private final ImmutableMap<String, String> tags;
  private final Optional<String> clientToken;
  private final OptionalLong volumeSizeGiB;
  private final String target;

  private SnapshotUpload(
      Path disk,
      Optional<ParentSnapshot> parent,
      String description,
      Map<String, String> tags,
      Optional<String> clientToken,
      OptionalLong volumeSizeGiB,
      String target) {
    this.disk = Objects.requireNonNull(disk, "disk");
    this.parent = parent;
    this.description = description;
    this.tags = ImmutableMap.copyOf(tags);
    this.clientToken = clientToken;
    this.volumeSizeGiB = volumeSizeGiB;
    this.target = target;
  }

  /** A full upload of {@code disk} (a raw disk image file). */
  public static SnapshotUpload of(Path disk) {
    return new SnapshotUpload(
        disk,
        Optional.empty(),
        null,
        Map.of(),
        Optional.empty(),
        OptionalLong.empty(),
        "ebs:" + disk.getFileName());
  }

  /** The local raw disk. */
  public Path disk() {
    return disk;
  }

  /** The parent snapshot and its local disk, for an incremental upload. */
  public Optional<ParentSnapshot> parent() {
    return parent;
  }

  /** The snapshot description (at most 255 characters), or null. */
  public String description() {
    return description;
  }

  /** Tags put on the snapshot by StartSnapshot. */
  public Map<String, String> tags() {
    return tags;
  }

  /** The StartSnapshot idempotency token; when empty, each upload call makes a fresh one. */
  public Optional<String> clientToken() {
    return clientToken;
  }

  /**
   * The volume size in GiB, if forced; otherwise the disk size rounded up to GiB (and at least the
   * parent's).
   */
  public OptionalLong volumeSizeGiB() {
    return volumeSizeGiB;
  }

  /** The target named in errors. */
  public String target() {
    return target;
  }

  /**
   * Starts the snapshot from {@code snapshotId} and sends only the blocks where {@code disk}
   * differs from {@code parentDisk}, which must be the exact local content of that snapshot.
   */
  public SnapshotUpload parent(String snapshotId, Path parentDisk) {
    return new SnapshotUpload(
        disk,
        Optional.of(new ParentSnapshot(snapshotId, parentDisk)),
        description,
        tags,
        clientToken,
        volumeSizeGiB,
        target);
  }

  /** A full upload again (no parent). */
  public SnapshotUpload noParent() {
    return new SnapshotUpload(
        disk, Optional.empty(), description, tags, clientToken, volumeSizeGiB, target);
  }

  /** Sets the description. */
  public SnapshotUpload description(String text) {
    if (text != null && text.length() > 255) {
      throw new IllegalArgumentException(
          "a snapshot description has at most 255 characters, found " + text.length());
    }
    return new SnapshotUpload(disk, parent, text, tags, clientToken, volumeSizeGiB, target);
  }

  /** Adds (or replaces) a tag. */
  public SnapshotUpload tag(String key, String value) {
    Map<String, String> t = new LinkedHashMap<>(tags);
    t.put(key, value);
    return new SnapshotUpload(disk, parent, description, t, clientToken, volumeSizeGiB, target);
  }

  /** Adds (or replaces) tags. */
  public SnapshotUpload tags(Map<String, String> more) {
    Map<String, String> t = new LinkedHashMap<>(tags);
    t.putAll(more);
    return new SnapshotUpload(disk, parent, description, t, clientToken, volumeSizeGiB, target);
  }

  /** Sets the StartSnapshot idempotency token (1-255 non-space characters). */
  public SnapshotUpload clientToken(String token) {
    if (token == null
        || token.isEmpty()
        || token.length() > 255
        || token.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(
          "a client token has 1-255 non-space characters, found '" + token + "'");
    }
    return new SnapshotUpload(
        disk, parent, description, tags, Optional.of(token), volumeSizeGiB, target);
  }

  /** Forces the volume size in GiB (at least the disk's size). */
  public SnapshotUpload volumeSizeGiB(long gib) {
    if (gib < 1 || gib > 65536) {
      throw new IllegalArgumentException("a volume size is 1-65536 GiB, found " + gib);
    }
    return new SnapshotUpload(
        disk, parent, description, tags, clientToken, OptionalLong.of(gib), target);
  }

  /** Sets the target named in errors (e.g. the {@code ec2://} URI). */
  public SnapshotUpload target(String name) {
    return new SnapshotUpload(
        disk, parent, description, tags, clientToken, volumeSizeGiB, Objects.requireNonNull(name));
  }

  /** A parent snapshot and the local raw disk it holds. */
  public record ParentSnapshot(String snapshotId, Path disk) {
    public ParentSnapshot {
      if (snapshotId == null || !snapshotId.matches("snap-[0-9a-f]+")) {
        throw new IllegalArgumentException(
            "expected a snapshot id snap-<hex>, found " + snapshotId);
      }
      Objects.requireNonNull(disk, "disk");
    }
  }
}
