package dev.kiln.spi;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableSortedMap;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * One entry of a layer, as a {@link LayerWriter} takes it: a normalised path inside the image, its
 * type, mode, ownership and, for regular files, where its content comes from. Deletions are
 * whiteout entries.
 *
 * <p>Paths are relative to the image root, without a leading slash, normalised ({@code
 * usr/bin/app}); the root directory itself is never an entry. Immutable and thread-safe.
 */
public record LayerEntry(
    String path,
    Type type,
    int mode,
    int uid,
    int gid,
    long size,
    String linkTarget,
    int devMajor,
    int devMinor,
    Map<String, byte[]> xattrs,
    Content content) {

  /** The kinds of entry a layer holds. */
  public enum Type {
    FILE,
    DIRECTORY,
    SYMLINK,
    /** A hard link to {@link #linkTarget()}, an earlier path of the same layer. */
    HARDLINK,
    CHAR_DEVICE,
    BLOCK_DEVICE,
    FIFO,
    /** Deletes {@link #path()} from the layers below ({@code .wh.NAME}). */
    WHITEOUT,
    /**
     * Hides everything the layers below have in the directory {@link #path()} ({@code
     * .wh..wh..opq}).
     */
    OPAQUE_WHITEOUT
  }

  /** Where a regular file's bytes come from; opened once, when the layer is written. */
  @FunctionalInterface
  public interface Content {
    InputStream open() throws IOException;

    /** The content of a file on disk. */
    static Content of(Path file) {
      return () -> Files.newInputStream(file);
    }

    /**
     * The content of a file on disk that must have the SHA-256 {@code digest}, the one its layer's
     * cache key was computed from: the layer writer hashes the bytes as it copies them and fails
     * with an {@link InputChangedException} naming the file when they differ, so a file edited
     * after it was hashed never ends up in a layer stored under the old key.
     */
    static Content hashed(Path file, dev.kiln.Digest digest) {
      return new Hashed(file, digest);
    }

    /** See {@link #hashed}. */
    record Hashed(Path file, dev.kiln.Digest digest) implements Content {
      public Hashed {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(digest, "digest");
      }

      @Override
      public InputStream open() throws IOException {
        return Files.newInputStream(file);
      }
    }

    /** In-memory content, for small generated files. */
    static Content of(byte[] bytes) {
      byte[] copy = bytes.clone();
      return () -> new java.io.ByteArrayInputStream(copy);
    }
  }

  public LayerEntry {
    path = normalize(path);
    Objects.requireNonNull(type, "type");
    checkArgument(
        mode >= 0 && mode <= 07777,
        "mode %s out of range for %s",
        Integer.toOctalString(mode),
        path);
    checkArgument(uid >= 0 && gid >= 0, "negative uid/gid for %s", path);
    xattrs = xattrs == null ? Map.of() : ImmutableSortedMap.copyOf(xattrs);
    linkTarget = linkTarget == null ? "" : linkTarget;
    if (type == Type.FILE) {
      checkArgument(size >= 0, "negative size for %s", path);
      Objects.requireNonNull(content, "content of " + path);
    } else {
      size = 0;
      content = null;
    }
    if (type == Type.SYMLINK || type == Type.HARDLINK) {
      checkArgument(!linkTarget.isEmpty(), "%s %s needs a target", type, path);
    }
    if (type == Type.HARDLINK) {
      linkTarget = normalize(linkTarget);
    }
  }

  /**
   * A regular file with content from {@code source}, which must be {@code size} bytes long when
   * read.
   */
  public static LayerEntry file(String path, int mode, long size, Content source) {
    return new LayerEntry(path, Type.FILE, mode, 0, 0, size, "", 0, 0, Map.of(), source);
  }

  /** A regular file with the content of a file on disk (its size is read now). */
  public static LayerEntry file(String path, int mode, Path source) throws IOException {
    return file(path, mode, Files.size(source), Content.of(source));
  }

  /** A regular file with the given bytes. */
  public static LayerEntry file(String path, int mode, byte[] bytes) {
    return file(path, mode, bytes.length, Content.of(bytes));
  }

  public static LayerEntry directory(String path, int mode) {
    return new LayerEntry(path, Type.DIRECTORY, mode, 0, 0, 0, "", 0, 0, Map.of(), null);
  }

  public static LayerEntry symlink(String path, String target) {
    return new LayerEntry(path, Type.SYMLINK, 0777, 0, 0, 0, target, 0, 0, Map.of(), null);
  }

  public static LayerEntry hardlink(String path, String target) {
    return new LayerEntry(path, Type.HARDLINK, 0644, 0, 0, 0, target, 0, 0, Map.of(), null);
  }

  public static LayerEntry device(String path, Type type, int mode, int major, int minor) {
    checkArgument(
        type == Type.CHAR_DEVICE || type == Type.BLOCK_DEVICE || type == Type.FIFO,
        "not a device: %s",
        type);
    return new LayerEntry(path, type, mode, 0, 0, 0, "", major, minor, Map.of(), null);
  }

  /** Deletes {@code path} (a file or a whole directory) from the layers below. */
  public static LayerEntry whiteout(String path) {
    return new LayerEntry(path, Type.WHITEOUT, 0, 0, 0, 0, "", 0, 0, Map.of(), null);
  }

  /** Hides the contents the layers below have in directory {@code dir}. */
  public static LayerEntry opaqueWhiteout(String dir) {
    return new LayerEntry(dir, Type.OPAQUE_WHITEOUT, 0, 0, 0, 0, "", 0, 0, Map.of(), null);
  }

  /** The same entry owned by {@code uid:gid}. */
  public LayerEntry owner(int uid, int gid) {
    return new LayerEntry(
        path, type, mode, uid, gid, size, linkTarget, devMajor, devMinor, xattrs, content);
  }

  /**
   * @deprecated use {@link #owner(int, int)}
   */
  @Deprecated(since = "0.2")
  public LayerEntry withOwner(int uid, int gid) {
    return owner(uid, gid);
  }

  /** The same entry with the permission bits {@code mode}. */
  public LayerEntry mode(int mode) {
    return new LayerEntry(
        path, type, mode, uid, gid, size, linkTarget, devMajor, devMinor, xattrs, content);
  }

  /**
   * @deprecated use {@link #mode(int)}
   */
  @Deprecated(since = "0.2")
  public LayerEntry withMode(int mode) {
    return mode(mode);
  }

  /** The same file entry with its content from {@code content}. */
  public LayerEntry content(Content content) {
    checkArgument(type == Type.FILE, "only a FILE entry has content, but %s is a %s", path, type);
    return new LayerEntry(
        path, type, mode, uid, gid, size, linkTarget, devMajor, devMinor, xattrs, content);
  }

  /**
   * @deprecated use {@link #content(Content)}
   */
  @Deprecated(since = "0.2")
  public LayerEntry withContent(Content content) {
    return content(content);
  }

  /** The same entry with the extended attributes {@code xattrs}. */
  public LayerEntry xattrs(Map<String, byte[]> xattrs) {
    return new LayerEntry(
        path, type, mode, uid, gid, size, linkTarget, devMajor, devMinor, xattrs, content);
  }

  /**
   * @deprecated use {@link #xattrs(Map)}
   */
  @Deprecated(since = "0.2")
  public LayerEntry withXattrs(Map<String, byte[]> xattrs) {
    return xattrs(xattrs);
  }

  /**
   * Normalises an image path: strips leading {@code /} and {@code ./}, folds {@code //} and {@code
   * .} segments.
   *
   * @throws IllegalArgumentException if the path is empty, names the root, or has a {@code ..}
   *     segment
   */
  public static String normalize(String path) {
    checkArgument(path != null && !path.isEmpty(), "empty path");
    checkArgument(path.indexOf('\0') < 0, "path with a NUL byte: %s", path);
    if (isNormal(path)) {
      return path;
    }
    StringBuilder sb = new StringBuilder(path.length());
    for (String seg : path.split("/")) {
      if (seg.isEmpty() || seg.equals(".")) {
        continue;
      }
      checkArgument(
          !seg.equals(".."), "path '%s' has a '..' segment: it would escape the image root", path);
      if (sb.length() > 0) {
        sb.append('/');
      }
      sb.append(seg);
    }
    checkArgument(sb.length() > 0, "path '%s' names the image root", path);
    return sb.toString();
  }

  /**
   * True when the path has no leading, trailing or double slash and no {@code .} or {@code ..}
   * segment.
   */
  private static boolean isNormal(String path) {
    int start = 0;
    int n = path.length();
    while (start <= n) {
      int end = path.indexOf('/', start);
      if (end < 0) {
        end = n;
      }
      int len = end - start;
      if (len == 0
          || (len == 1 && path.charAt(start) == '.')
          || (len == 2 && path.charAt(start) == '.' && path.charAt(start + 1) == '.')) {
        return false;
      }
      start = end + 1;
    }
    return true;
  }
}
