package dev.kiln.disk;

import dev.kiln.InvalidTargetException;
import dev.kiln.Target;
import dev.kiln.UriTarget;
import dev.kiln.spi.TargetPaths;
import java.nio.file.Path;
import java.util.Objects;

/**
 * {@code raw:FILE}: the image as a bootable raw GPT disk (EFI system partition + ext4 root). Its
 * {@link DiskOptions} are given in code or as {@link DiskParameters} in the string ({@code
 * raw:FILE?disk.size=4G}). Immutable.
 *
 * <pre>
 * {@code kiln.bake(build, DiskTarget.raw(Path.of("build/web.img")).options(DiskOptions.defaults().size(4L << 30)))}
 * </pre>
 */
public final class DiskTarget implements Target {
  private final Path file;
  private final DiskOptions options;

  private DiskTarget(Path file, DiskOptions options) {
    this.file = file;
    this.options = Objects.requireNonNull(options);
  }

  /**
   * A raw disk at {@code file} with {@link DiskOptions#defaults()}; the path is read as {@link
   * TargetPaths} says.
   *
   * @throws InvalidTargetException if the path names a directory
   */
  public static DiskTarget raw(Path file) {
    String path = Objects.requireNonNull(file, "file").toString();
    return new DiskTarget(TargetPaths.file("raw:" + path, path), DiskOptions.defaults());
  }

  /** Parses {@code raw:FILE[?disk.NAME=VALUE&…]} (see {@link DiskParameters}). */
  public static DiskTarget parse(Target target) {
    if (target instanceof DiskTarget d) {
      return d;
    }
    UriTarget t = UriTarget.parse(target.toString());
    if (!t.scheme().equals("raw")) {
      throw new InvalidTargetException("not a raw: target: " + target);
    }
    if (t.hierarchical() || t.reference().isBlank()) {
      throw new InvalidTargetException("expected raw:FILE, found " + target);
    }
    DiskParameters.FileTarget f = DiskParameters.parseFile(target.toString(), t.reference());
    return new DiskTarget(TargetPaths.file(target.toString(), f.path()), f.options());
  }

  /** A copy whose disk is built with these options ({@code disk.NAME} parameters in the string). */
  public DiskTarget options(DiskOptions options) {
    return new DiskTarget(file, options);
  }

  /**
   * @deprecated use {@link #options(DiskOptions)}
   */
  @Deprecated(since = "0.2")
  public DiskTarget withOptions(DiskOptions options) {
    return options(options);
  }

  public Path file() {
    return file;
  }

  public DiskOptions options() {
    return options;
  }

  @Override
  public String scheme() {
    return "raw";
  }

  @Override
  public String toString() {
    return "raw:" + file + DiskParameters.toQuery(options);
  }
}
