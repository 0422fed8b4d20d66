package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import dev.kiln.spi.LayerEntry;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * A layer of files from the build machine: files and whole directories (recursively, symlinks kept
 * as symlinks), plus directories, symlinks and small files declared in code. Each method returns a
 * new layer.
 *
 * <p>Target paths are absolute paths inside the image. Unless a mode is given, a regular file gets
 * 0755 when its owner may execute it and 0644 otherwise, and a directory 0755: what a git checkout
 * preserves, so the layer is the same from any checkout. Ownership is {@code 0:0} unless set.
 * Immutable and thread-safe.
 */
public final class FilesLayer implements Layer {

  /** One declared entry. {@code source} is null for entries declared in code. */
  public record Entry(
      Kind kind,
      Path source,
      String target,
      OptionalInt mode,
      int uid,
      int gid,
      String linkTarget,
      byte[] bytes) {
    /** What an entry declares. */
    public enum Kind {
      /** A file or a directory tree copied from {@code source}. */
      COPY,
      /**
       * A directory tree copied from {@code source} keeping every file's permission bits as they
       * are on disk.
       */
      TREE,
      DIRECTORY,
      SYMLINK,
      /** A file whose bytes are given in code. */
      CONTENT
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Entry e
          && kind == e.kind
          && Objects.equals(source, e.source)
          && target.equals(e.target)
          && mode.equals(e.mode)
          && uid == e.uid
          && gid == e.gid
          && Objects.equals(linkTarget, e.linkTarget)
          && Arrays.equals(bytes, e.bytes);
    }

    @Override
    public int hashCode() {
      return Objects.hash(kind, source, target, mode, uid, gid, linkTarget, Arrays.hashCode(bytes));
    }
  }

  private final String name;
  private final ImmutableList<Entry> entries;
  private final int uid;
  private final int gid;

  private FilesLayer(String name, ImmutableList<Entry> entries, int uid, int gid) {
    this.name = name;
    this.entries = entries;
    this.uid = uid;
    this.gid = gid;
  }

  static FilesLayer named(String name) {
    checkArgument(name != null && !name.isBlank(), "a layer needs a name");
    return new FilesLayer(name, ImmutableList.of(), 0, 0);
  }

  /**
   * Copies a file or a directory tree to {@code target}, with modes as described in the class
   * comment.
   */
  public FilesLayer add(Path source, String target) {
    return with(
        new Entry(
            Entry.Kind.COPY,
            source(source),
            target(target),
            OptionalInt.empty(),
            uid,
            gid,
            null,
            null));
  }

  /**
   * Copies a file to {@code target} with the given mode; for a directory tree, the mode applies to
   * its regular files and directories get 0755.
   */
  public FilesLayer add(Path source, String target, int mode) {
    return with(
        new Entry(
            Entry.Kind.COPY, source(source), target(target), mode(mode), uid, gid, null, null));
  }

  /** Copies a file or tree with the given mode and ownership. */
  public FilesLayer add(Path source, String target, int mode, int uid, int gid) {
    checkOwner(uid, gid);
    return with(
        new Entry(
            Entry.Kind.COPY, source(source), target(target), mode(mode), uid, gid, null, null));
  }

  /**
   * Copies a directory tree keeping each file's permission bits (setuid, sticky, 0700…) as they are
   * on disk, as a root file system needs; ownership is the layer's owner.
   */
  public FilesLayer addTree(Path directory, String target) {
    return with(
        new Entry(
            Entry.Kind.TREE,
            source(directory),
            target(target),
            OptionalInt.empty(),
            uid,
            gid,
            null,
            null));
  }

  /** Declares a directory (and, implicitly, its parents). */
  public FilesLayer directory(String target, int mode) {
    return with(
        new Entry(Entry.Kind.DIRECTORY, null, target(target), mode(mode), uid, gid, null, null));
  }

  /** Declares a symlink at {@code target} pointing to {@code linkTarget} (kept as written). */
  public FilesLayer symlink(String target, String linkTarget) {
    checkArgument(linkTarget != null && !linkTarget.isEmpty(), "symlink %s needs a target", target);
    return with(
        new Entry(
            Entry.Kind.SYMLINK,
            null,
            target(target),
            OptionalInt.empty(),
            uid,
            gid,
            linkTarget,
            null));
  }

  /** Declares a file with the given bytes, for small generated files. */
  public FilesLayer content(String target, byte[] bytes, int mode) {
    Objects.requireNonNull(bytes, "bytes");
    return with(
        new Entry(
            Entry.Kind.CONTENT, null, target(target), mode(mode), uid, gid, null, bytes.clone()));
  }

  /** Sets the owner of the entries added after this call. */
  public FilesLayer owner(int uid, int gid) {
    checkOwner(uid, gid);
    return new FilesLayer(name, entries, uid, gid);
  }

  /** The declared entries, in declaration order (later entries win on the same path). */
  public ImmutableList<Entry> entries() {
    return entries;
  }

  @Override
  public String kind() {
    return "files";
  }

  @Override
  public String name() {
    return name;
  }

  private FilesLayer with(Entry e) {
    return new FilesLayer(
        name, ImmutableList.<Entry>builder().addAll(entries).add(e).build(), uid, gid);
  }

  private static Path source(Path source) {
    Objects.requireNonNull(source, "source");
    return source.toAbsolutePath().normalize();
  }

  /** Checks and normalises an absolute target path; returns it with a leading slash. */
  static String target(String target) {
    checkArgument(
        target != null && target.startsWith("/"),
        "target path must be absolute, found '%s'",
        target);
    if (target.chars().allMatch(c -> c == '/' || c == '.') && !target.contains("..")) {
      return "/"; // the image root: only a directory may be copied there
    }
    return "/" + LayerEntry.normalize(target);
  }

  private static OptionalInt mode(int mode) {
    checkArgument(
        mode >= 0 && mode <= 07777,
        "mode %s is not a permission mode",
        Integer.toOctalString(mode));
    return OptionalInt.of(mode);
  }

  private static void checkOwner(int uid, int gid) {
    checkArgument(uid >= 0 && gid >= 0, "uid and gid must not be negative");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FilesLayer f
        && name.equals(f.name)
        && entries.equals(f.entries)
        && uid == f.uid
        && gid == f.gid;
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, entries, uid, gid);
  }

  @Override
  public String toString() {
    return "files '" + name + "' (" + entries.size() + " entries)";
  }
}
