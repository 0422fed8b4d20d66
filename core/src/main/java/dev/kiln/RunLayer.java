package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A layer made by running shell commands in a container whose root file system is the image below
 * it; the layer is exactly what the commands changed (added and modified files, deletions as OCI
 * whiteouts), in canonical form. Needs a provisioner for kind {@code run}, such as the one in
 * {@code dev.kiln:kiln-provider-docker}.
 *
 * <pre>{@code
 * Layer.run("nginx", "apt-get update", "apt-get install -y nginx")
 *     .env("DEBIAN_FRONTEND", "noninteractive")
 *     .input(Path.of("conf/nginx.conf"), "/tmp/nginx.conf")
 *     .secret("netrc", Path.of(System.getProperty("user.home"), ".netrc"))
 *     .timeout(Duration.ofMinutes(10))
 * }</pre>
 *
 * <p>What decides the layer (its cache key): the commands, the environment set here, user, working
 * directory, the container path and content digest of every declared input, and the <em>names</em>
 * of the secrets. Not in the key: the content of secrets (rotating a credential does not rebuild
 * the image; rename the secret to force a rebuild), the network and the timeout (they decide
 * whether the commands can succeed, not what they write). Commands run in order with {@code /bin/sh
 * -c}, stopping at the first that fails, in one shell, so {@code cd} and {@code export} carry over
 * to the next command. Deterministic commands give the same layer digest on every machine.
 *
 * <p>Each method returns a changed copy. Immutable and thread-safe.
 */
public final class RunLayer implements Layer {
  /** The default bound on the commands' run time. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(30);

  private static final Pattern SECRET_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");

  /**
   * A file or directory of the build machine that the commands read, mounted read-only at {@code
   * target} while they run (never part of the layer). Its content digest is part of the layer's
   * key.
   */
  public record Input(Path source, String target) {
    public Input {
      Objects.requireNonNull(source, "source");
      Objects.requireNonNull(target, "target");
    }
  }

  private final String name;
  private final ImmutableList<String> commands;
  private final ImmutableMap<String, String> env;
  private final String user;
  private final String workdir;
  private final ImmutableList<Input> inputs;
  private final ImmutableSortedMap<String, Path> secrets;
  private final RunConditions conditions;

  private RunLayer(
      String name,
      ImmutableList<String> commands,
      ImmutableMap<String, String> env,
      String user,
      String workdir,
      ImmutableList<Input> inputs,
      ImmutableSortedMap<String, Path> secrets,
      RunConditions conditions) {
    this.name = name;
    this.commands = commands;
    this.env = env;
    this.user = user;
    this.workdir = workdir;
    this.inputs = inputs;
    this.secrets = secrets;
    this.conditions = conditions;
  }

  static RunLayer of(String name, String... commands) {
    checkArgument(name != null && !name.isBlank(), "a layer needs a name");
    Objects.requireNonNull(commands, "commands");
    checkArgument(commands.length > 0, "run layer '%s' needs at least one command", name);
    for (String c : commands) {
      checkArgument(c != null && !c.isBlank(), "run layer '%s' has an empty command", name);
    }
    return new RunLayer(
        name,
        ImmutableList.copyOf(commands),
        ImmutableMap.of(),
        null,
        null,
        ImmutableList.of(),
        ImmutableSortedMap.of(),
        RunConditions.DEFAULT);
  }

  /**
   * Sets an environment variable for the commands (not for the image: use {@code ImageBuild.config}
   * for that).
   */
  public RunLayer env(String name, String value) {
    checkArgument(
        name != null && !name.isEmpty() && !name.contains("="),
        "bad environment variable name: %s",
        name);
    Objects.requireNonNull(value, "value");
    Map<String, String> m = new LinkedHashMap<>(env);
    m.put(name, value);
    return new RunLayer(
        this.name, commands, ImmutableMap.copyOf(m), user, workdir, inputs, secrets, conditions);
  }

  /**
   * The user the commands run as: {@code name}, {@code uid}, {@code uid:gid} or {@code name:group}
   * (default root).
   */
  public RunLayer user(String user) {
    checkArgument(user != null && !user.isBlank(), "empty user");
    return new RunLayer(name, commands, env, user, workdir, inputs, secrets, conditions);
  }

  /**
   * The directory the commands start in; created (as part of the layer) when the image below lacks
   * it.
   */
  public RunLayer workdir(String workdir) {
    checkArgument(
        workdir != null && workdir.startsWith("/"), "workdir must be absolute, found %s", workdir);
    return new RunLayer(
        name, commands, env, user, FilesLayer.target(workdir), inputs, secrets, conditions);
  }

  /**
   * Mounts a file or directory of the build machine read-only at {@code target} while the commands
   * run. Its content (every file of a directory, with its relative path and executable bit) is part
   * of the layer's key, so editing it rebuilds the layer; the mount itself leaves nothing in the
   * layer.
   */
  public RunLayer input(Path source, String target) {
    Objects.requireNonNull(source, "source");
    String t = FilesLayer.target(target);
    checkArgument(!t.equals("/"), "an input cannot be mounted at the image root");
    Input in = new Input(source.toAbsolutePath().normalize(), t);
    return new RunLayer(
        name,
        commands,
        env,
        user,
        workdir,
        ImmutableList.<Input>builder().addAll(inputs).add(in).build(),
        secrets,
        conditions);
  }

  /**
   * Makes a file readable by the commands at {@code /run/secrets/NAME} (read-only) without it ever
   * being part of a layer. Only the name is part of the layer's key, not the content.
   */
  public RunLayer secret(String name, Path file) {
    checkArgument(
        name != null && SECRET_NAME.matcher(name).matches(),
        "bad secret name '%s': use letters, digits, '_', '.', '-'",
        name);
    Objects.requireNonNull(file, "file");
    Map<String, Path> m = new LinkedHashMap<>(secrets);
    m.put(name, file.toAbsolutePath().normalize());
    return new RunLayer(
        this.name, commands, env, user, workdir, inputs, ImmutableSortedMap.copyOf(m), conditions);
  }

  /**
   * Stops the commands and fails the layer when they run longer than this (default {@link
   * #DEFAULT_TIMEOUT}).
   */
  public RunLayer timeout(Duration timeout) {
    return new RunLayer(
        name, commands, env, user, workdir, inputs, secrets, conditions.withTimeout(timeout));
  }

  /**
   * The network the container joins: {@code host}, {@code none}, or a network name; the container
   * engine's default network unless set.
   */
  public RunLayer network(String network) {
    return new RunLayer(
        name, commands, env, user, workdir, inputs, secrets, conditions.withNetwork(network));
  }

  /** The commands, in order. */
  public ImmutableList<String> commands() {
    return commands;
  }

  /** The environment set for the commands, in the order first set. */
  public ImmutableMap<String, String> env() {
    return env;
  }

  public Optional<String> user() {
    return Optional.ofNullable(user);
  }

  public Optional<String> workdir() {
    return Optional.ofNullable(workdir);
  }

  /** The declared inputs, in declaration order. */
  public ImmutableList<Input> inputs() {
    return inputs;
  }

  /** The secrets by name. */
  public ImmutableSortedMap<String, Path> secrets() {
    return secrets;
  }

  public Duration timeout() {
    return conditions.timeout();
  }

  /** The network, or empty for the engine's default. */
  public Optional<String> network() {
    return Optional.ofNullable(conditions.network());
  }

  @Override
  public String kind() {
    return "run";
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RunLayer r
        && name.equals(r.name)
        && commands.equals(r.commands)
        && env.equals(r.env)
        && Objects.equals(user, r.user)
        && Objects.equals(workdir, r.workdir)
        && inputs.equals(r.inputs)
        && secrets.equals(r.secrets)
        && conditions.equals(r.conditions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        name,
        commands,
        env,
        user,
        workdir,
        inputs,
        secrets,
        conditions.timeout(),
        conditions.network());
  }

  @Override
  public String toString() {
    return "run '" + name + "' (" + commands.size() + " commands)";
  }
}
