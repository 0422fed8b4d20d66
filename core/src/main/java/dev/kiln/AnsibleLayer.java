package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedSet;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A layer made by running an existing Ansible playbook, unchanged, against the image below it; the
 * layer is exactly what the play changed, as for {@link RunLayer}. This is the definition only: it
 * needs a provisioner for kind {@code ansible}, such as the one in {@code
 * dev.kiln:kiln-provider-docker} (which runs the play against a container and says what it needs on
 * the build machine and in the image).
 *
 * <pre>{@code
 * Layer.ansible(Path.of("ansible/site.yml"))
 *     .groups("webservers")                          // so that "hosts: webservers" plays apply
 *     .extraVars(Map.of("app_port", 8080))
 *     .tags("web")
 *     .vaultPasswordFile(Path.of(System.getProperty("user.home"), ".vault-pass")) // never in a layer or the key
 * }</pre>
 *
 * <p>The image is one inventory host, {@value #HOST}, in group {@code all} and in the {@link
 * #groups groups} given here. Plays, roles and variables are Ansible's own: the playbook's {@code
 * roles/}, {@code group_vars/} and {@code host_vars/} apply as with any inventory.
 *
 * <p>What decides the layer (its cache key): the <em>playbook tree</em>, the options below and the
 * version of ansible-core — nothing else, so touching an unrelated file in the repository does not
 * rebuild the image. The tree is, relative to the playbook's directory: the playbook file; every
 * {@code *.yml} and {@code *.yaml} file directly in that directory (sibling playbooks, vars files,
 * {@code requirements.yml}); the directories {@code roles}, {@code group_vars}, {@code host_vars},
 * {@code collections}, {@code files}, {@code templates}, {@code vars}, {@code tasks}, {@code
 * handlers}, {@code library}, {@code module_utils} and every {@code *_plugins} directory (the
 * places Ansible itself looks next to a playbook); each directory given to {@link #roles}; and each
 * path given to {@link #include}. Within them every file counts (relative path, executable bit,
 * content; symlinks followed) except {@code .git}, {@code __pycache__} and {@code *.pyc}. Options
 * in the key: inventory and extra variables, tags, skipped tags, limit, groups, check mode. Not in
 * the key: the vault password (rotating it does not rebuild), the timeout and the network.
 * Collections installed on the build machine are not in the key either: vendor them under the
 * playbook's {@code collections/} directory to have them count.
 *
 * <p>Each method returns a changed copy. Immutable and thread-safe.
 */
public final class AnsibleLayer implements Layer {
  /** The inventory host name of the image. */
  public static final String HOST = "kiln-image";

  private static final Pattern VAR = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final Pattern GROUP = Pattern.compile("[A-Za-z_][A-Za-z0-9_-]*");

  /**
   * Inventory variables every provisioner sets itself: how Ansible reaches the image. A provisioner
   * may reserve more (the Docker one: its connection plugin's and the temporary directories').
   */
  private static final Pattern RESERVED = Pattern.compile("ansible_(connection|host)");

  private final String name;
  private final Path playbook;
  private final ImmutableList<Path> roles;
  private final ImmutableList<Path> includes;
  private final ImmutableMap<String, Object> inventoryVars;
  private final ImmutableMap<String, Object> extraVars;
  private final ImmutableSortedSet<String> tags;
  private final ImmutableSortedSet<String> skipTags;
  private final String limit;
  private final Path vaultPasswordFile;
  private final ImmutableSortedSet<String> groups;
  private final boolean check;
  private final RunConditions conditions;

  private AnsibleLayer(Values v) {
    this.name = v.name;
    this.playbook = v.playbook;
    this.roles = v.roles;
    this.includes = v.includes;
    this.inventoryVars = v.inventoryVars;
    this.extraVars = v.extraVars;
    this.tags = v.tags;
    this.skipTags = v.skipTags;
    this.limit = v.limit;
    this.vaultPasswordFile = v.vaultPasswordFile;
    this.groups = v.groups;
    this.check = v.check;
    this.conditions = v.conditions;
  }

  static AnsibleLayer of(Path playbook) {
    Objects.requireNonNull(playbook, "playbook");
    Values v = new Values();
    v.playbook = playbook.toAbsolutePath().normalize();
    checkArgument(
        v.playbook.getFileName() != null, "the playbook must be a file, found %s", playbook);
    v.name = "ansible " + v.playbook.getFileName();
    return new AnsibleLayer(v);
  }

  /** The same layer under another name (default {@code ansible FILE}). */
  public AnsibleLayer named(String name) {
    checkArgument(name != null && !name.isBlank(), "a layer needs a name");
    Values v = values();
    v.name = name;
    return new AnsibleLayer(v);
  }

  /**
   * Adds directories that hold roles (as entries of Ansible's {@code roles_path}), searched after
   * the playbook's own {@code roles/}. Every file in them is part of the key.
   */
  public AnsibleLayer roles(Path... dirs) {
    Objects.requireNonNull(dirs, "dirs");
    Values v = values();
    v.roles = ImmutableList.<Path>builder().addAll(roles).addAll(absolute(dirs)).build();
    return new AnsibleLayer(v);
  }

  /**
   * Adds files or directories the play reads from outside the playbook tree (say, {@code
   * vars_files: ../common.yml} or a lookup): their content becomes part of the key, so editing them
   * rebuilds the layer. Relative paths are resolved against the working directory, as every path
   * here.
   */
  public AnsibleLayer include(Path... paths) {
    Objects.requireNonNull(paths, "paths");
    Values v = values();
    v.includes = ImmutableList.<Path>builder().addAll(includes).addAll(absolute(paths)).build();
    return new AnsibleLayer(v);
  }

  /**
   * Sets host variables of the image in the inventory (as {@code host_vars} would), merged with
   * those set before. Values are strings, numbers, booleans, lists and maps of them. The connection
   * variables ({@code ansible_host}, {@code ansible_connection}) are Kiln's; the provisioner may
   * reserve more and refuses them before the play runs.
   */
  public AnsibleLayer inventoryVars(Map<String, ?> vars) {
    Values v = values();
    v.inventoryVars = merge(inventoryVars, vars, true);
    return new AnsibleLayer(v);
  }

  /**
   * Sets extra variables ({@code --extra-vars}, the highest precedence), merged with those set
   * before.
   */
  public AnsibleLayer extraVars(Map<String, ?> vars) {
    Values v = values();
    v.extraVars = merge(extraVars, vars, false);
    return new AnsibleLayer(v);
  }

  /** Runs only tasks with these tags ({@code --tags}); adds to those given before. */
  public AnsibleLayer tags(String... tags) {
    Values v = values();
    v.tags =
        ImmutableSortedSet.<String>naturalOrder().addAll(this.tags).addAll(checkTags(tags)).build();
    return new AnsibleLayer(v);
  }

  /** Skips tasks with these tags ({@code --skip-tags}); adds to those given before. */
  public AnsibleLayer skipTags(String... tags) {
    Values v = values();
    v.skipTags =
        ImmutableSortedSet.<String>naturalOrder()
            .addAll(this.skipTags)
            .addAll(checkTags(tags))
            .build();
    return new AnsibleLayer(v);
  }

  /**
   * Limits the run to a host pattern ({@code --limit}), such as a group name: plays for hosts
   * outside it do not apply to the image.
   */
  public AnsibleLayer limit(String pattern) {
    checkArgument(pattern != null && !pattern.isBlank(), "empty limit");
    Values v = values();
    v.limit = pattern.strip();
    return new AnsibleLayer(v);
  }

  /**
   * Decrypts vaulted content with the password in this file ({@code --vault-password-file}; an
   * executable file is run by Ansible and prints the password). The file is read by Ansible on the
   * build machine only: it is never copied into the container, never part of a layer, and neither
   * its path nor its content is part of the key.
   */
  public AnsibleLayer vaultPasswordFile(Path file) {
    Objects.requireNonNull(file, "file");
    Values v = values();
    v.vaultPasswordFile = file.toAbsolutePath().normalize();
    return new AnsibleLayer(v);
  }

  /**
   * Puts the image host into these inventory groups (besides {@code all}), so that plays for them
   * ({@code hosts: webservers}) apply and their {@code group_vars} are loaded; adds to those given
   * before.
   */
  public AnsibleLayer groups(String... groups) {
    Objects.requireNonNull(groups, "groups");
    for (String g : groups) {
      checkArgument(
          g != null && GROUP.matcher(g).matches() && !g.equals("all") && !g.equals("ungrouped"),
          "bad inventory group name '%s': use letters, digits, '_', '-', not 'all' or 'ungrouped'",
          g);
    }
    Values v = values();
    v.groups = ImmutableSortedSet.<String>naturalOrder().addAll(this.groups).add(groups).build();
    return new AnsibleLayer(v);
  }

  /**
   * A dry run ({@code --check}): modules report what they would change and change nothing, so the
   * layer holds (nearly) nothing; the output shows what a real run would do.
   */
  public AnsibleLayer check() {
    Values v = values();
    v.check = true;
    return new AnsibleLayer(v);
  }

  /** Stops the play and fails the layer when it runs longer than this (default 30 minutes). */
  public AnsibleLayer timeout(Duration timeout) {
    Values v = values();
    v.conditions = conditions.withTimeout(timeout);
    return new AnsibleLayer(v);
  }

  /**
   * The network the play's target joins, as for {@link RunLayer#network}: {@code host}, or a
   * network name; the provisioner's default network unless set. Not part of the key.
   */
  public AnsibleLayer network(String network) {
    Values v = values();
    v.conditions = conditions.withNetwork(network);
    return new AnsibleLayer(v);
  }

  /** The playbook file, absolute. */
  public Path playbook() {
    return playbook;
  }

  /** The extra role directories, in the order given. */
  public ImmutableList<Path> roles() {
    return roles;
  }

  /** The extra files and directories in the key, in the order given. */
  public ImmutableList<Path> includes() {
    return includes;
  }

  public ImmutableMap<String, Object> inventoryVars() {
    return inventoryVars;
  }

  public ImmutableMap<String, Object> extraVars() {
    return extraVars;
  }

  /** The tags to run, sorted (empty: all). */
  public ImmutableList<String> tags() {
    return tags.asList();
  }

  /** The tags to skip, sorted. */
  public ImmutableList<String> skipTags() {
    return skipTags.asList();
  }

  public Optional<String> limit() {
    return Optional.ofNullable(limit);
  }

  public Optional<Path> vaultPasswordFile() {
    return Optional.ofNullable(vaultPasswordFile);
  }

  /** The inventory groups of the image host besides {@code all}, sorted. */
  public ImmutableList<String> groups() {
    return groups.asList();
  }

  /** Whether this is a dry run. */
  public boolean isCheck() {
    return check;
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
    return "ansible";
  }

  @Override
  public String name() {
    return name;
  }

  private Values values() {
    Values v = new Values();
    v.name = name;
    v.playbook = playbook;
    v.roles = roles;
    v.includes = includes;
    v.inventoryVars = inventoryVars;
    v.extraVars = extraVars;
    v.tags = tags;
    v.skipTags = skipTags;
    v.limit = limit;
    v.vaultPasswordFile = vaultPasswordFile;
    v.groups = groups;
    v.check = check;
    v.conditions = conditions;
    return v;
  }

  private static List<Path> absolute(Path[] paths) {
    return java.util.Arrays.stream(paths)
        .map(p -> Objects.requireNonNull(p, "path").toAbsolutePath().normalize())
        .toList();
  }

  private static List<String> checkTags(String[] tags) {
    Objects.requireNonNull(tags, "tags");
    for (String t : tags) {
      checkArgument(
          t != null && !t.isBlank() && !t.contains(","),
          "bad tag '%s': tags are non-empty and have no ','",
          t);
    }
    return List.of(tags);
  }

  private static ImmutableMap<String, Object> merge(
      Map<String, Object> old, Map<String, ?> vars, boolean inventory) {
    Objects.requireNonNull(vars, "vars");
    Map<String, Object> m = new LinkedHashMap<>(old);
    for (Map.Entry<String, ?> e : vars.entrySet()) {
      String k = e.getKey();
      checkArgument(k != null && VAR.matcher(k).matches(), "bad variable name '%s'", k);
      checkArgument(
          !inventory || !RESERVED.matcher(k).matches(),
          "inventory variable '%s' is set by Kiln (it connects Ansible to the image)",
          k);
      m.put(k, value(k, e.getValue()));
    }
    return ImmutableMap.copyOf(m);
  }

  /**
   * An immutable copy of a variable's value: strings, numbers, booleans, lists and string-keyed
   * maps of them.
   */
  private static Object value(String name, Object v) {
    if (v instanceof String
        || v instanceof Boolean
        || v instanceof Integer
        || v instanceof Long
        || v instanceof Short
        || v instanceof Byte
        || v instanceof BigInteger
        || v instanceof BigDecimal) {
      return v;
    }
    if (v instanceof Double d) {
      checkArgument(Double.isFinite(d), "variable '%s' is not a finite number", name);
      return v;
    }
    if (v instanceof Float f) {
      checkArgument(Float.isFinite(f), "variable '%s' is not a finite number", name);
      return v;
    }
    if (v instanceof List<?> list) {
      return list.stream().map(x -> value(name, x)).collect(ImmutableList.toImmutableList());
    }
    if (v instanceof Map<?, ?> map) {
      ImmutableMap.Builder<String, Object> b = ImmutableMap.builder();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        checkArgument(
            e.getKey() instanceof String,
            "variable '%s' has a map with a key that is not a string",
            name);
        b.put((String) e.getKey(), value(name, e.getValue()));
      }
      return b.buildOrThrow();
    }
    throw new IllegalArgumentException(
        "variable '"
            + name
            + "' has a value Ansible cannot take: "
            + (v == null ? "null" : v.getClass().getName())
            + " (use strings, numbers, booleans, lists and maps)");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AnsibleLayer a
        && name.equals(a.name)
        && playbook.equals(a.playbook)
        && roles.equals(a.roles)
        && includes.equals(a.includes)
        && inventoryVars.equals(a.inventoryVars)
        && extraVars.equals(a.extraVars)
        && tags.equals(a.tags)
        && skipTags.equals(a.skipTags)
        && Objects.equals(limit, a.limit)
        && Objects.equals(vaultPasswordFile, a.vaultPasswordFile)
        && groups.equals(a.groups)
        && check == a.check
        && conditions.equals(a.conditions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        name,
        playbook,
        roles,
        includes,
        inventoryVars,
        extraVars,
        tags,
        skipTags,
        limit,
        vaultPasswordFile,
        groups,
        check,
        conditions.timeout(),
        conditions.network());
  }

  @Override
  public String toString() {
    return "ansible '" + name + "' (" + playbook.getFileName() + (check ? ", check" : "") + ")";
  }

  /** The fields of a layer being changed. */
  private static final class Values {
    String name;
    Path playbook;
    ImmutableList<Path> roles = ImmutableList.of();
    ImmutableList<Path> includes = ImmutableList.of();
    ImmutableMap<String, Object> inventoryVars = ImmutableMap.of();
    ImmutableMap<String, Object> extraVars = ImmutableMap.of();
    ImmutableSortedSet<String> tags = ImmutableSortedSet.of();
    ImmutableSortedSet<String> skipTags = ImmutableSortedSet.of();
    String limit;
    Path vaultPasswordFile;
    ImmutableSortedSet<String> groups = ImmutableSortedSet.of();
    boolean check;
    RunConditions conditions = RunConditions.DEFAULT;
  }
}
