package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import com.google.common.collect.ImmutableSortedSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The runtime configuration of an image: entrypoint, command, environment, working directory, user,
 * labels and exposed ports. Each method returns a changed copy, so a build reads {@code .config(c
 * -> c.entrypoint("/opt/app/run").env("PORT", "8080"))}. Immutable and thread-safe.
 */
public final class ImageConfig {
  private static final Pattern PORT = Pattern.compile("\\d{1,5}(/(tcp|udp|sctp))?");
  private static final ImageConfig EMPTY =
      new ImageConfig(
          null,
          null,
          ImmutableMap.of(),
          null,
          null,
          ImmutableSortedMap.of(),
          ImmutableSortedSet.of());

  private final ImmutableList<String> entrypoint;
  private final ImmutableList<String> cmd;
  private final ImmutableMap<String, String> env;
  private final String workdir;
  private final String user;
  private final ImmutableSortedMap<String, String> labels;
  private final ImmutableSortedSet<String> exposedPorts;

  private ImageConfig(
      ImmutableList<String> entrypoint,
      ImmutableList<String> cmd,
      ImmutableMap<String, String> env,
      String workdir,
      String user,
      ImmutableSortedMap<String, String> labels,
      ImmutableSortedSet<String> exposedPorts) {
    this.entrypoint = entrypoint;
    this.cmd = cmd;
    this.env = env;
    this.workdir = workdir;
    this.user = user;
    this.labels = labels;
    this.exposedPorts = exposedPorts;
  }

  /** A configuration with nothing set. */
  public static ImageConfig empty() {
    return EMPTY;
  }

  public ImageConfig entrypoint(String... entrypoint) {
    return new ImageConfig(
        ImmutableList.copyOf(entrypoint), cmd, env, workdir, user, labels, exposedPorts);
  }

  public ImageConfig cmd(String... cmd) {
    return new ImageConfig(
        entrypoint, ImmutableList.copyOf(cmd), env, workdir, user, labels, exposedPorts);
  }

  /** Sets one environment variable; a later value for the same name replaces the earlier one. */
  public ImageConfig env(String name, String value) {
    checkArgument(
        name != null && !name.isEmpty() && !name.contains("="),
        "bad environment variable name: %s",
        name);
    Map<String, String> m = new LinkedHashMap<>(env);
    m.put(name, Objects.requireNonNull(value, "value"));
    return new ImageConfig(
        entrypoint, cmd, ImmutableMap.copyOf(m), workdir, user, labels, exposedPorts);
  }

  public ImageConfig workdir(String workdir) {
    checkArgument(
        workdir != null && workdir.startsWith("/"), "workdir must be absolute, found %s", workdir);
    return new ImageConfig(entrypoint, cmd, env, workdir, user, labels, exposedPorts);
  }

  /**
   * The user the container runs as: {@code name}, {@code uid}, {@code uid:gid} or {@code
   * name:group}.
   */
  public ImageConfig user(String user) {
    checkArgument(user != null && !user.isEmpty(), "empty user");
    return new ImageConfig(entrypoint, cmd, env, workdir, user, labels, exposedPorts);
  }

  public ImageConfig label(String key, String value) {
    checkArgument(key != null && !key.isEmpty(), "empty label key");
    Map<String, String> m = new LinkedHashMap<>(labels);
    m.put(key, Objects.requireNonNull(value, "value"));
    return new ImageConfig(
        entrypoint, cmd, env, workdir, user, ImmutableSortedMap.copyOf(m), exposedPorts);
  }

  /** Exposes a port, {@code 8080} (tcp) or {@code 53/udp}. */
  public ImageConfig expose(String port) {
    checkArgument(
        port != null && PORT.matcher(port).matches(),
        "expected PORT[/tcp|udp|sctp], found %s",
        port);
    String p = port.contains("/") ? port : port + "/tcp";
    return new ImageConfig(
        entrypoint,
        cmd,
        env,
        workdir,
        user,
        labels,
        ImmutableSortedSet.<String>naturalOrder().addAll(exposedPorts).add(p).build());
  }

  public ImageConfig expose(int port) {
    return expose(Integer.toString(port));
  }

  /**
   * This configuration over {@code base}: values set here win, environment variables and labels are
   * merged, ports are added.
   */
  public ImageConfig over(ImageConfig base) {
    Map<String, String> e = new LinkedHashMap<>(base.env);
    e.putAll(env);
    Map<String, String> l = new LinkedHashMap<>(base.labels);
    l.putAll(labels);
    return new ImageConfig(
        entrypoint != null ? entrypoint : base.entrypoint,
        cmd != null ? cmd : (entrypoint != null ? null : base.cmd),
        ImmutableMap.copyOf(e),
        workdir != null ? workdir : base.workdir,
        user != null ? user : base.user,
        ImmutableSortedMap.copyOf(l),
        ImmutableSortedSet.<String>naturalOrder()
            .addAll(base.exposedPorts)
            .addAll(exposedPorts)
            .build());
  }

  public Optional<ImmutableList<String>> entrypoint() {
    return Optional.ofNullable(entrypoint);
  }

  public Optional<ImmutableList<String>> cmd() {
    return Optional.ofNullable(cmd);
  }

  /** Environment variables in the order they were first set. */
  public ImmutableMap<String, String> env() {
    return env;
  }

  public Optional<String> workdir() {
    return Optional.ofNullable(workdir);
  }

  public Optional<String> user() {
    return Optional.ofNullable(user);
  }

  public ImmutableSortedMap<String, String> labels() {
    return labels;
  }

  public ImmutableSortedSet<String> exposedPorts() {
    return exposedPorts;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ImageConfig c
        && Objects.equals(entrypoint, c.entrypoint)
        && Objects.equals(cmd, c.cmd)
        && env.equals(c.env)
        && Objects.equals(workdir, c.workdir)
        && Objects.equals(user, c.user)
        && labels.equals(c.labels)
        && exposedPorts.equals(c.exposedPorts);
  }

  @Override
  public int hashCode() {
    return Objects.hash(entrypoint, cmd, env, workdir, user, labels, exposedPorts);
  }

  @Override
  public String toString() {
    return "ImageConfig{entrypoint="
        + entrypoint
        + ", cmd="
        + cmd
        + ", env="
        + env
        + ", workdir="
        + workdir
        + ", user="
        + user
        + ", labels="
        + labels
        + ", ports="
        + exposedPorts
        + "}";
  }
}
