package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * What an image starts from: nothing, a root file system, an image in an OCI layout, or another build.
 * Immutable and thread-safe.
 */
public final class Base {

  /** The kinds of base. */
  public enum Kind {
    /** No layers. */
    SCRATCH,
    /** One layer from a tarball (plain or gzip) or a directory. */
    ROOTFS,
    /** The layers and configuration of an image in an OCI image layout. */
    OCI,
    /** The layers and configuration of another build. */
    BUILD,
    /** An image from a registry, resolved by a store provider for the reference's scheme. */
    IMAGE
  }

  private static final Base SCRATCH = new Base(Kind.SCRATCH, null, null, null);

  private final Kind kind;
  private final Path path;
  private final String reference;
  private final ImageBuild build;

  private Base(Kind kind, Path path, String reference, ImageBuild build) {
    this.kind = kind;
    this.path = path;
    this.reference = reference;
    this.build = build;
  }

  /** An empty base: the image has only the layers added to it. */
  public static Base scratch() {
    return SCRATCH;
  }

  /**
   * A root file system: a tarball (plain or gzip, detected by content) or a directory. The tarball's entries are
   * checked and rewritten in canonical form; a directory's files keep their permission bits and get owner 0:0.
   */
  public static Base rootfs(Path tarballOrDirectory) {
    Objects.requireNonNull(tarballOrDirectory, "rootfs");
    return new Base(Kind.ROOTFS, tarballOrDirectory.toAbsolutePath().normalize(), null, null);
  }

  /** The image tagged {@code tag} in the OCI image layout at {@code layout}. */
  public static Base oci(Path layout, String tag) {
    Objects.requireNonNull(layout, "layout");
    checkArgument(tag != null && !tag.isEmpty(), "an OCI base needs a tag");
    return new Base(Kind.OCI, layout.toAbsolutePath().normalize(), tag, null);
  }

  /** The result of another build: its layers (shared, cached once) and its configuration. */
  public static Base of(ImageBuild build) {
    return new Base(Kind.BUILD, null, null, Objects.requireNonNull(build, "build"));
  }

  /**
   * An image from a registry, such as {@code docker://registry.example/debian@sha256:…}; needs the provider for
   * the scheme on the classpath, and is pinned to its manifest digest in the image record.
   */
  public static Base image(String reference) {
    checkArgument(reference != null && reference.contains(":"), "expected SCHEME:REFERENCE, found %s", reference);
    return new Base(Kind.IMAGE, null, reference, null);
  }

  public Kind kind() {
    return kind;
  }

  /** The rootfs tarball or directory, or the OCI layout directory. */
  public Optional<Path> path() {
    return Optional.ofNullable(path);
  }

  /** The OCI tag, or the image reference. */
  public Optional<String> reference() {
    return Optional.ofNullable(reference);
  }

  /** The build this base is the result of. */
  public Optional<ImageBuild> build() {
    return Optional.ofNullable(build);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Base b
        && kind == b.kind
        && Objects.equals(path, b.path)
        && Objects.equals(reference, b.reference)
        && Objects.equals(build, b.build);
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, path, reference, build);
  }

  @Override
  public String toString() {
    return switch (kind) {
      case SCRATCH -> "scratch";
      case ROOTFS -> "rootfs " + path;
      case OCI -> "oci " + path + ":" + reference;
      case BUILD -> "build " + build;
      case IMAGE -> "image " + reference;
    };
  }
}
