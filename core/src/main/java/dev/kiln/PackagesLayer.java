package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedSet;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A layer that installs operating-system packages with the image's own package manager (apt,
 * dnf/yum or apk, found in the image below), cleans the package manager's caches and lists in the
 * same layer, and records the installed versions in the image record (layer metadata {@code
 * package.NAME} → version). Needs a provisioner for kind {@code packages}, such as the one in
 * {@code dev.kiln:kiln-provider-docker}.
 *
 * <pre>{@code Layer.packages("curl", "ca-certificates")}</pre>
 *
 * <p>What decides the layer (its cache key): the package names (as a set) and the image below,
 * whose key already covers its package-manager configuration. A cached layer keeps the versions it
 * resolved when it was built; {@link #refresh()} makes every bake resolve them again. Names may
 * carry a version or architecture as the package manager writes them ({@code
 * curl=7.88.1-10+deb12u5}, {@code libc6:amd64}).
 *
 * <p>Each method returns a changed copy. Immutable and thread-safe.
 */
public final class PackagesLayer implements Layer {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9+._:=~@-]*");

  private final String name;
  private final ImmutableSortedSet<String> packages;
  private final boolean refresh;
  private final RunConditions conditions;

  private PackagesLayer(
      String name, ImmutableSortedSet<String> packages, boolean refresh, RunConditions conditions) {
    this.name = name;
    this.packages = packages;
    this.refresh = refresh;
    this.conditions = conditions;
  }

  static PackagesLayer of(String... names) {
    Objects.requireNonNull(names, "names");
    checkArgument(names.length > 0, "a packages layer needs at least one package name");
    for (String n : names) {
      checkArgument(n != null && NAME.matcher(n).matches(), "'%s' is not a package name", n);
    }
    ImmutableSortedSet<String> set = ImmutableSortedSet.copyOf(names);
    return new PackagesLayer(
        "packages " + String.join(" ", set), set, false, RunConditions.DEFAULT);
  }

  /** The same layer under another name (default {@code packages NAME...}). */
  public PackagesLayer named(String name) {
    checkArgument(name != null && !name.isBlank(), "a layer needs a name");
    return new PackagesLayer(name, packages, refresh, conditions);
  }

  /**
   * Resolves and installs the packages again on every bake instead of reusing the cached layer (its
   * key gets a fresh nonce each time), to pick up security updates; layers above it are rebuilt
   * too.
   */
  public PackagesLayer refresh() {
    return new PackagesLayer(name, packages, true, conditions);
  }

  /**
   * Stops the installation and fails the layer when it runs longer than this (default 30 minutes).
   */
  public PackagesLayer timeout(Duration timeout) {
    return new PackagesLayer(name, packages, refresh, conditions.withTimeout(timeout));
  }

  /**
   * The network the installation runs in, as for {@link RunLayer#network}: {@code host}, or a
   * network name; the container engine's default network unless set. Not part of the key.
   */
  public PackagesLayer network(String network) {
    return new PackagesLayer(name, packages, refresh, conditions.withNetwork(network));
  }

  /** The network, or empty for the engine's default. */
  public Optional<String> network() {
    return Optional.ofNullable(conditions.network());
  }

  /** The package names, sorted. */
  public ImmutableList<String> packages() {
    return packages.asList();
  }

  /** Whether every bake resolves the packages again. */
  public boolean refreshes() {
    return refresh;
  }

  public Duration timeout() {
    return conditions.timeout();
  }

  @Override
  public String kind() {
    return "packages";
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PackagesLayer p
        && name.equals(p.name)
        && packages.equals(p.packages)
        && refresh == p.refresh
        && conditions.equals(p.conditions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, packages, refresh, conditions.timeout(), conditions.network());
  }

  @Override
  public String toString() {
    return "packages '" + name + "' " + packages + (refresh ? " (refresh)" : "");
  }
}
