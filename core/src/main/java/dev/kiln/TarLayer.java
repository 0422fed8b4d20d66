package dev.kiln;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A layer whose content is the entries of a tarball, plain or gzip, checked (no {@code ..}, nothing
 * written through a symlink) and rewritten in canonical form. Immutable and thread-safe.
 */
public final class TarLayer implements Layer {
  private final Path tarball;
  private final String name;

  private TarLayer(Path tarball, String name) {
    this.tarball = tarball;
    this.name = name;
  }

  static TarLayer of(Path tarball) {
    Objects.requireNonNull(tarball, "tarball");
    Path abs = tarball.toAbsolutePath().normalize();
    return new TarLayer(abs, String.valueOf(abs.getFileName()));
  }

  /** The same tarball under another layer name. */
  public TarLayer named(String name) {
    return new TarLayer(tarball, Objects.requireNonNull(name));
  }

  /** The tarball. */
  public Path tarball() {
    return tarball;
  }

  @Override
  public String kind() {
    return "tar";
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TarLayer t && tarball.equals(t.tarball) && name.equals(t.name);
  }

  @Override
  public int hashCode() {
    return Objects.hash(tarball, name);
  }

  @Override
  public String toString() {
    return "tar '" + name + "' from " + tarball;
  }
}
