package dev.kiln.vmware;

import dev.kiln.InvalidTargetException;
import dev.kiln.Target;
import dev.kiln.UriTarget;
import dev.kiln.disk.DiskOptions;
import dev.kiln.disk.DiskParameters;
import dev.kiln.spi.TargetPaths;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;

/**
 * {@code vmdk:FILE}, {@code ova:FILE} or {@code ovf:DIR}, with the {@link DiskOptions} of the disk
 * they hold, given in code or as {@link DiskParameters} in the string ({@code
 * vmdk:build/web.vmdk?disk.size=8G}). Immutable.
 *
 * <pre>
 * {@code kiln.bake(build, VmwareFileTarget.ova(Path.of("build/web.ova")).diskOptions(DiskOptions.defaults().size(8L << 30)))}
 * </pre>
 */
public final class VmwareFileTarget implements Target {
  static final Set<String> SCHEMES = Set.of("vmdk", "ova", "ovf");

  private final String scheme;
  private final Path path;
  private final DiskOptions diskOptions;

  private VmwareFileTarget(String scheme, Path path, DiskOptions diskOptions) {
    this.scheme = scheme;
    this.path = path;
    this.diskOptions = Objects.requireNonNull(diskOptions, "diskOptions");
  }

  /** A streamOptimized VMDK at {@code file} (read as {@link TargetPaths} says). */
  public static VmwareFileTarget vmdk(Path file) {
    return of("vmdk", file);
  }

  /**
   * An OVA (descriptor, manifest and disk in one tar) at {@code file} (read as {@link TargetPaths}
   * says).
   */
  public static VmwareFileTarget ova(Path file) {
    return of("ova", file);
  }

  /**
   * An OVF package (descriptor, manifest and disk) in directory {@code dir} (read as {@link
   * TargetPaths} says).
   */
  public static VmwareFileTarget ovf(Path dir) {
    return of("ovf", dir);
  }

  private static VmwareFileTarget of(String scheme, Path path) {
    String p = Objects.requireNonNull(path, "path").toString();
    return new VmwareFileTarget(
        scheme, resolve(scheme, scheme + ":" + p, p), DiskOptions.defaults());
  }

  /** An {@code ovf:} target names a directory, the others a file. */
  private static Path resolve(String scheme, String target, String path) {
    return scheme.equals("ovf")
        ? TargetPaths.directory(target, path)
        : TargetPaths.file(target, path);
  }

  /**
   * The target itself when it is one, else {@code SCHEME:PATH[?disk.NAME=VALUE&…]} parsed.
   *
   * @throws InvalidTargetException when it is not such a target, saying what was expected
   */
  public static VmwareFileTarget parse(Target target) {
    if (target instanceof VmwareFileTarget t) {
      return t;
    }
    UriTarget t = UriTarget.parse(target.toString());
    if (!SCHEMES.contains(t.scheme())) {
      throw new InvalidTargetException("expected vmdk:FILE, ova:FILE or ovf:DIR, found " + target);
    }
    if (t.hierarchical() || t.reference().isBlank()) {
      throw new InvalidTargetException("expected " + t.scheme() + ":PATH, found " + target);
    }
    DiskParameters.FileTarget f = DiskParameters.parseFile(target.toString(), t.reference());
    return new VmwareFileTarget(
        t.scheme(), resolve(t.scheme(), target.toString(), f.path()), f.options());
  }

  /** A copy whose disk is built with these options. */
  public VmwareFileTarget diskOptions(DiskOptions options) {
    return new VmwareFileTarget(scheme, path, options);
  }

  /**
   * @deprecated use {@link #diskOptions(DiskOptions)}
   */
  @Deprecated(since = "0.2")
  public VmwareFileTarget withDiskOptions(DiskOptions options) {
    return diskOptions(options);
  }

  /** The file (or the directory, for {@code ovf:}). */
  public Path path() {
    return path;
  }

  public DiskOptions diskOptions() {
    return diskOptions;
  }

  @Override
  public String scheme() {
    return scheme;
  }

  @Override
  public String toString() {
    return scheme + ":" + path + DiskParameters.toQuery(diskOptions);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VmwareFileTarget t && t.toString().equals(toString());
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }
}
