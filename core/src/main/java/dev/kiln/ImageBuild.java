package dev.kiln;

import com.google.common.collect.ImmutableList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The definition of an image: a base, layers on top of it, and a runtime configuration. A pure
 * value: building one does no I/O; {@link #bake} does the work.
 *
 * <pre>{@code
 * BakeResult r = ImageBuild.from(Base.rootfs(Path.of("debian-12.tar")))
 *     .layer(Layer.files("app").add(Path.of("target/app.jar"), "/opt/app/app.jar", 0644))
 *     .config(c -> c.entrypoint("java", "-jar", "/opt/app/app.jar"))
 *     .bake("oci-archive:app.tar");
 * }</pre>
 *
 * <p>{@link #layer} returns a new build whose parent is this one, so the chain is the layer graph:
 * builds forked from a common prefix share those layers, and their cache keys. Immutable and
 * thread-safe.
 */
public final class ImageBuild {
  private final Base base;
  private final ImageBuild parent;
  private final Layer layer;
  private final ImageConfig config;
  private final List<Platform> platforms;

  private ImageBuild(
      Base base, ImageBuild parent, Layer layer, ImageConfig config, List<Platform> platforms) {
    this.base = base;
    this.parent = parent;
    this.layer = layer;
    this.config = config;
    this.platforms = platforms;
  }

  /** A build that starts from {@code base}. */
  public static ImageBuild from(Base base) {
    return new ImageBuild(
        Objects.requireNonNull(base, "base"), null, null, ImageConfig.empty(), List.of());
  }

  /** This build with one more layer on top. */
  public ImageBuild layer(Layer layer) {
    Objects.requireNonNull(layer, "layer");
    return new ImageBuild(base, this, layer, config, platforms);
  }

  /**
   * This build with its configuration changed by {@code change}, e.g. {@code c -> c.env("PORT",
   * "8080")}.
   */
  public ImageBuild config(UnaryOperator<ImageConfig> change) {
    ImageConfig changed =
        Objects.requireNonNull(change.apply(config), "config change returned null");
    return new ImageBuild(base, parent, layer, changed, platforms);
  }

  /**
   * This build, baked for each of {@code platforms} (such as {@link Platform#LINUX_AMD64} and
   * {@link Platform#LINUX_ARM64}): one image per platform, published together as an OCI image index
   * where there are several. Layers that run commands ({@code run}, {@code packages}, {@code
   * ansible}) are provisioned per platform, under emulation for a foreign one; layers that only add
   * files are the same layer, with the same digest, for every platform. Without this call a build
   * is baked for {@link Platform#host()}. See docs/platforms.md.
   */
  public ImageBuild platforms(Platform... platforms) {
    List<Platform> ps = List.of(platforms);
    if (ps.isEmpty()) {
      throw new IllegalArgumentException("name at least one platform");
    }
    if (new java.util.HashSet<>(ps).size() != ps.size()) {
      throw new IllegalArgumentException("a platform is named twice: " + ps);
    }
    return new ImageBuild(base, parent, layer, config, ps);
  }

  /** {@link #platforms(Platform...)} from strings such as {@code "linux/arm64"}. */
  public ImageBuild platforms(String... platforms) {
    return platforms(
        java.util.Arrays.stream(platforms).map(Platform::parse).toArray(Platform[]::new));
  }

  /**
   * The platforms this build is baked for, in the order given; empty when none were named (then it
   * is baked for {@link Platform#host()}).
   */
  public List<Platform> platforms() {
    return platforms;
  }

  /** The base this build starts from. */
  public Base base() {
    return base;
  }

  /** The build below the top layer, or empty when this build has no layer of its own. */
  public Optional<ImageBuild> parent() {
    return Optional.ofNullable(parent);
  }

  /** The top layer, or empty for a build that is just its base. */
  public Optional<Layer> top() {
    return Optional.ofNullable(layer);
  }

  /** The layers added on top of the base, lowest first. */
  public ImmutableList<Layer> layers() {
    List<Layer> out = new ArrayList<>();
    for (ImageBuild b = this; b != null && b.layer != null; b = b.parent) {
      out.add(b.layer);
    }
    Collections.reverse(out);
    return ImmutableList.copyOf(out);
  }

  /** The configuration set on this build (without what the base brings). */
  public ImageConfig config() {
    return config;
  }

  /** Bakes this build with {@link Kiln#defaults()} into the local store only. */
  public BakeResult bake() throws BakeException {
    return Kiln.defaults().bake(this);
  }

  /**
   * Bakes this build with {@link Kiln#defaults()} and publishes it to the targets (none: the local
   * store only).
   */
  public BakeResult bake(String... targets) throws BakeException {
    return Kiln.defaults().bake(this, targets);
  }

  /** Bakes this build with {@link Kiln#defaults()} and publishes it to the typed targets. */
  public BakeResult bake(Target... targets) throws BakeException {
    return Kiln.defaults().bake(this, targets);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ImageBuild b
        && base.equals(b.base)
        && Objects.equals(parent, b.parent)
        && Objects.equals(layer, b.layer)
        && config.equals(b.config)
        && platforms.equals(b.platforms);
  }

  @Override
  public int hashCode() {
    return Objects.hash(base, parent, layer, config, platforms);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("ImageBuild{").append(base);
    for (Layer l : layers()) {
      sb.append(" + ").append(l.kind()).append(':').append(l.name());
    }
    if (!platforms.isEmpty()) {
      sb.append(" for ").append(platforms);
    }
    return sb.append('}').toString();
  }
}
