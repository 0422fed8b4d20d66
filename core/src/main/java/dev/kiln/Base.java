package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What an image starts from: nothing, a root file system, an image in an OCI layout, an image from
 * a registry, or another build. One record per kind, so code that handles bases checks each with
 * {@code instanceof} and the compiler knows the list is complete. Immutable and thread-safe.
 */
public sealed interface Base
    permits Base.Scratch,
        Base.Rootfs,
        Base.OciLayout,
        Base.RegistryImage,
        Base.FromBuild,
        Base.ByPlatform {

  /** No layers. */
  record Scratch() implements Base {
    @Override
    public String toString() {
      return "scratch";
    }
  }

  /**
   * One layer from a tarball (plain or gzip, detected by content) or a directory. The tarball's
   * entries are checked and rewritten in canonical form; a directory's files keep their permission
   * bits and get owner 0:0.
   */
  record Rootfs(Path path) implements Base {
    public Rootfs {
      path = Objects.requireNonNull(path, "rootfs").toAbsolutePath().normalize();
    }

    @Override
    public String toString() {
      return "rootfs " + path;
    }
  }

  /**
   * The layers and configuration of the image tagged {@code tag} in the OCI image layout at {@code
   * layout}.
   */
  record OciLayout(Path layout, String tag) implements Base {
    public OciLayout {
      layout = Objects.requireNonNull(layout, "layout").toAbsolutePath().normalize();
      checkArgument(tag != null && !tag.isEmpty(), "an OCI base needs a tag");
    }

    @Override
    public String toString() {
      return "oci " + layout + ":" + tag;
    }
  }

  /**
   * An image from a registry ({@code SCHEME:REFERENCE}), resolved by a provider for the reference's
   * scheme.
   */
  record RegistryImage(String reference) implements Base {
    public RegistryImage {
      checkArgument(
          reference != null && reference.contains(":"),
          "expected SCHEME:REFERENCE, found %s",
          reference);
    }

    @Override
    public String toString() {
      return "image " + reference;
    }
  }

  /** The layers (shared, cached once) and configuration of another build. */
  record FromBuild(ImageBuild build) implements Base {
    public FromBuild {
      Objects.requireNonNull(build, "build");
    }

    @Override
    public String toString() {
      return "build " + build;
    }
  }

  /**
   * A base per platform, for bases that do not choose their platform themselves (a root file system
   * is of one architecture; an OCI layout or registry image that is an index chooses the matching
   * image by itself). A bake for a platform this map lacks fails before anything is provisioned.
   */
  record ByPlatform(Map<Platform, Base> bases) implements Base {
    public ByPlatform {
      bases = Map.copyOf(Objects.requireNonNull(bases, "bases"));
      checkArgument(!bases.isEmpty(), "name a base for at least one platform");
      checkArgument(
          bases.values().stream().noneMatch(b -> b instanceof ByPlatform),
          "a base per platform cannot hold another");
    }

    /** The base for {@code platform}, if this map has one. */
    public Optional<Base> forPlatform(Platform platform) {
      return Optional.ofNullable(bases.get(platform));
    }

    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder("per platform {");
      bases.entrySet().stream()
          .sorted(Comparator.comparing(e -> e.getKey().toString()))
          .forEach(
              e ->
                  sb.append(sb.length() > 14 ? ", " : "")
                      .append(e.getKey())
                      .append('=')
                      .append(e.getValue()));
      return sb.append('}').toString();
    }
  }

  /** An empty base: the image has only the layers added to it. */
  static Base scratch() {
    return new Scratch();
  }

  /**
   * A root file system: a tarball (plain or gzip, detected by content) or a directory. The
   * tarball's entries are checked and rewritten in canonical form; a directory's files keep their
   * permission bits and get owner 0:0.
   */
  static Base rootfs(Path tarballOrDirectory) {
    return new Rootfs(tarballOrDirectory);
  }

  /** The image tagged {@code tag} in the OCI image layout at {@code layout}. */
  static Base oci(Path layout, String tag) {
    return new OciLayout(layout, tag);
  }

  /**
   * A base per platform, e.g. {@code Base.byPlatform(Map.of(Platform.LINUX_AMD64,
   * Base.rootfs(amd64Tar), Platform.LINUX_ARM64, Base.rootfs(arm64Tar)))}.
   */
  static Base byPlatform(Map<Platform, Base> bases) {
    return new ByPlatform(bases);
  }

  /** The result of another build: its layers (shared, cached once) and its configuration. */
  static Base of(ImageBuild build) {
    return new FromBuild(build);
  }

  /**
   * An image from a registry, such as {@code docker://registry.example/debian@sha256:…}; needs the
   * provider for the scheme on the classpath, and is pinned to its manifest digest in the image
   * record.
   */
  static Base image(String reference) {
    return new RegistryImage(reference);
  }
}
