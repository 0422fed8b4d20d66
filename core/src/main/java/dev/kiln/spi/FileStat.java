package dev.kiln.spi;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What one {@code lstat} of a path says: its type, permission bits, size and the fields a stat
 * index compares to tell an unchanged file (size, mtime, inode, ctime). Walkers take it once per
 * path and hand it to {@link FileDigests#digest(Path, FileStat)}, so a no-op rebake costs one
 * system call per file.
 */
public record FileStat(
    Type type, int mode, long size, long mtimeNanos, long inode, long ctimeNanos) {

  /** The kinds of file a layer can hold, and everything else. */
  public enum Type {
    FILE,
    DIRECTORY,
    SYMLINK,
    OTHER
  }

  private static final String ATTRIBUTES = "unix:mode,size,lastModifiedTime,ino,ctime";
  private static final int S_IFMT = 0170000;

  /** Stats a path without following a final symlink. */
  public static FileStat lstat(Path path) throws IOException {
    Map<String, Object> a = Files.readAttributes(path, ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
    int mode = (Integer) a.get("mode");
    Type type =
        switch (mode & S_IFMT) {
          case 0100000 -> Type.FILE;
          case 0040000 -> Type.DIRECTORY;
          case 0120000 -> Type.SYMLINK;
          default -> Type.OTHER;
        };
    return new FileStat(
        type,
        mode & 07777,
        (Long) a.get("size"),
        ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS),
        ((Number) a.get("ino")).longValue(),
        ((FileTime) a.get("ctime")).to(TimeUnit.NANOSECONDS));
  }
}
