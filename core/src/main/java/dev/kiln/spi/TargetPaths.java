package dev.kiln.spi;

import dev.kiln.InvalidTargetException;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * The one rule for the local paths in targets ({@code oci:DIR}, {@code oci-archive:FILE}, {@code
 * raw:FILE}, {@code vmdk:FILE}, …), so every store reads a path as any other program on the machine
 * would:
 *
 * <ul>
 *   <li>a relative path is relative to the working directory of the process;
 *   <li>{@code ..} means the parent of what the path names up to there, as the file system resolves
 *       it: after a symbolic link that is the parent of the link's target, not the directory
 *       holding the link. So the part of the path up to its last {@code ..} is resolved on the file
 *       system when it exists, never shortened by text alone;
 *   <li>a file target must name a file: a path that ends in {@code /}, {@code .} or {@code ..} is
 *       refused.
 * </ul>
 *
 * The result is absolute. Stores call this when they are created, so a bad path fails before
 * anything is written.
 */
public final class TargetPaths {
  private TargetPaths() {}

  /**
   * The file a target names, such as FILE of {@code oci-archive:FILE:TAG}.
   *
   * @param target the target as written, for the error message
   * @throws InvalidTargetException if the path is empty, invalid or names a directory
   */
  public static Path file(String target, String path) {
    if (path.endsWith("/")
        || path.equals(".")
        || path.equals("..")
        || path.endsWith("/.")
        || path.endsWith("/..")) {
      throw new InvalidTargetException(
          "target '"
              + target
              + "': '"
              + path
              + "' names a directory, expected a file path such as out/image.tar");
    }
    return resolve(target, path);
  }

  /**
   * The directory a target names, such as DIR of {@code oci:DIR:TAG}.
   *
   * @param target the target as written, for the error message
   * @throws InvalidTargetException if the path is empty or invalid
   */
  public static Path directory(String target, String path) {
    return resolve(target, path);
  }

  private static Path resolve(String target, String path) {
    if (path.isEmpty()) {
      throw new InvalidTargetException("target '" + target + "' has an empty path");
    }
    Path p;
    try {
      p = Path.of(path).toAbsolutePath();
    } catch (InvalidPathException e) {
      throw new InvalidTargetException(
          "target '" + target + "': '" + path + "' is not a valid path: " + e.getReason());
    }
    int last = -1;
    for (int i = 0; i < p.getNameCount(); i++) {
      if (p.getName(i).toString().equals("..")) {
        last = i;
      }
    }
    if (last < 0) {
      return p
          .normalize(); // only "." and repeated separators go: the same file for the file system
    }
    Path head = p.getRoot().resolve(p.subpath(0, last + 1));
    Path tail =
        last + 1 < p.getNameCount() ? p.subpath(last + 1, p.getNameCount()).normalize() : null;
    try {
      head = head.toRealPath();
    } catch (IOException e) {
      // not there (yet): leave it to the file system when the store writes, exactly as written
      return p;
    }
    return tail == null ? head : head.resolve(tail);
  }
}
