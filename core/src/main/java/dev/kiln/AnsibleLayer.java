package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedSet;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

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

  private final AnsibleLayerFields fields;

  private AnsibleLayer(AnsibleLayerFields fields) {
    this.fields = fields;
  }

  static AnsibleLayer of(Path playbook) {
    Objects.requireNonNull(playbook, "playbook");
    AnsibleLayerFields v = new AnsibleLayerFields();
    v.playbook = playbook.toAbsolutePath().normalize();
    checkArgument(
        v.playbook.getFileName() != null, "the playbook must be a file, found %s", playbook);
    v.name = "ansible " + v.playbook.getFileName();
    return new AnsibleLayer(v);
  }

  /** The same layer under another name (default {@code ansible FILE}). */
  public AnsibleLayer named(String name) {
    checkArgument(name != null && !name.isBlank(), "a layer needs a name");
    AnsibleLayerFields v = fields.copy();
    v.name = name;
    return new AnsibleLayer(v);
  }

  /**
   * Adds directories that hold roles (as entries of Ansible's {@code roles_path}), searched after
   * the playbook's own {@code roles/}. Every file in them is part of the key.
   */
  public AnsibleLayer roles(Path... dirs) {
    Objects.requireNonNull(dirs, "dirs");
    AnsibleLayerFields v = fields.copy();
    v.roles =
        ImmutableList.<Path>builder()
            .addAll(v.roles)
            .addAll(AnsibleArguments.absolute(dirs))
            .build();
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
    AnsibleLayerFields v = fields.copy();
    v.includes =
        ImmutableList.<Path>builder()
            .addAll(v.includes)
            .addAll(AnsibleArguments.absolute(paths))
            .build();
    return new AnsibleLayer(v);
  }

  /**
   * Sets host variables of the image in the inventory (as {@code host_vars} would), merged with
   * those set before. Values are strings, numbers, booleans, lists and maps of them. The connection
   * variables ({@code ansible_host}, {@code ansible_connection}) are Kiln's; the provisioner may
   * reserve more and refuses them before the play runs.
   */
  public AnsibleLayer inventoryVars(Map<String, ?> vars) {
    AnsibleLayerFields v = fields.copy();
    v.inventoryVars = AnsibleArguments.merge(v.inventoryVars, vars, true);
    return new AnsibleLayer(v);
  }

  /**
   * Sets extra variables ({@code --extra-vars}, the highest precedence), merged with those set
   * before.
   */
  public AnsibleLayer extraVars(Map<String, ?> vars) {
    AnsibleLayerFields v = fields.copy();
    v.extraVars = AnsibleArguments.merge(v.extraVars, vars, false);
    return new AnsibleLayer(v);
  }

  /** Runs only tasks with these tags ({@code --tags}); adds to those given before. */
  public AnsibleLayer tags(String... tags) {
    AnsibleLayerFields v = fields.copy();
    v.tags =
        ImmutableSortedSet.<String>naturalOrder()
            .addAll(v.tags)
            .addAll(AnsibleArguments.tags(tags))
            .build();
    return new AnsibleLayer(v);
  }

  /** Skips tasks with these tags ({@code --skip-tags}); adds to those given before. */
  public AnsibleLayer skipTags(String... tags) {
    AnsibleLayerFields v = fields.copy();
    v.skipTags =
        ImmutableSortedSet.<String>naturalOrder()
            .addAll(v.skipTags)
            .addAll(AnsibleArguments.tags(tags))
            .build();
    return new AnsibleLayer(v);
  }

  /**
   * Limits the run to a host pattern ({@code --limit}), such as a group name: plays for hosts
   * outside it do not apply to the image.
   */
  public AnsibleLayer limit(String pattern) {
    checkArgument(pattern != null && !pattern.isBlank(), "empty limit");
    AnsibleLayerFields v = fields.copy();
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
    AnsibleLayerFields v = fields.copy();
    v.vaultPasswordFile = file.toAbsolutePath().normalize();
    return new AnsibleLayer(v);
  }

  /**
   * Puts the image host into these inventory groups (besides {@code all}), so that plays for them
   * ({@code hosts: webservers}) apply and their {@code group_vars} are loaded; adds to those given
   * before.
   */
  public AnsibleLayer groups(String... groups) {
    List<String> checked = AnsibleArguments.groups(groups);
    AnsibleLayerFields v = fields.copy();
    v.groups = ImmutableSortedSet.<String>naturalOrder().addAll(v.groups).addAll(checked).build();
    return new AnsibleLayer(v);
  }

  /**
   * A dry run ({@code --check}): modules report what they would change and change nothing, so the
   * layer holds (nearly) nothing; the output shows what a real run would do.
   */
  public AnsibleLayer check() {
    AnsibleLayerFields v = fields.copy();
    v.check = true;
    return new AnsibleLayer(v);
  }

  /** Stops the play and fails the layer when it runs longer than this (default 30 minutes). */
  public AnsibleLayer timeout(Duration timeout) {
    AnsibleLayerFields v = fields.copy();
    v.conditions = v.conditions.withTimeout(timeout);
    return new AnsibleLayer(v);
  }

  /**
   * The network the play's target joins, as for {@link RunLayer#network}: {@code host}, or a
   * network name; the provisioner's default network unless set. Not part of the key.
   */
  public AnsibleLayer network(String network) {
    AnsibleLayerFields v = fields.copy();
    v.conditions = v.conditions.withNetwork(network);
    return new AnsibleLayer(v);
  }

  /** The playbook file, absolute. */
  public Path playbook() {
    return fields.playbook;
  }

  /** The extra role directories, in the order given. */
  public ImmutableList<Path> roles() {
    return fields.roles;
  }

  /** The extra files and directories in the key, in the order given. */
  public ImmutableList<Path> includes() {
    return fields.includes;
  }

  public ImmutableMap<String, Object> inventoryVars() {
    return fields.inventoryVars;
  }

  public ImmutableMap<String, Object> extraVars() {
    return fields.extraVars;
  }

  /** The tags to run, sorted (empty: all). */
  public ImmutableList<String> tags() {
    return fields.tags.asList();
  }

  /** The tags to skip, sorted. */
  public ImmutableList<String> skipTags() {
    return fields.skipTags.asList();
  }

  public Optional<String> limit() {
    return Optional.ofNullable(fields.limit);
  }

  public Optional<Path> vaultPasswordFile() {
    return Optional.ofNullable(fields.vaultPasswordFile);
  }

  /** The inventory groups of the image host besides {@code all}, sorted. */
  public ImmutableList<String> groups() {
    return fields.groups.asList();
  }

  /** Whether this is a dry run. */
  public boolean isCheck() {
    return fields.check;
  }

  public Duration timeout() {
    return fields.conditions.timeout();
  }

  /** The network, or empty for the engine's default. */
  public Optional<String> network() {
    return Optional.ofNullable(fields.conditions.network());
  }

  @Override
  public String kind() {
    return "ansible";
  }

  @Override
  public String name() {
    return fields.name;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AnsibleLayer a && fields.equals(a.fields);
  }

  @Override
  public int hashCode() {
    return fields.hashCode();
  }

  @Override
  public String toString() {
    return "ansible '"
        + fields.name
        + "' ("
        + fields.playbook.getFileName()
        + (fields.check ? ", check" : "")
        + ")";
  }
}
