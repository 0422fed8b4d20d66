package dev.kiln.docker;

import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import dev.kiln.AnsibleLayer;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Provisions {@code ansible} layers ({@link AnsibleLayer}): a container of the image below waits
 * while {@code ansible-playbook} on the build machine runs the play against it through the {@code
 * community.docker.docker} connection; then the container is stopped and what it changed becomes
 * the layer, as for {@code run} layers ({@link ContainerRunner}, {@link ContainerChanges}).
 *
 * <p>Left out of the layer besides what {@code run} layers leave out: Ansible's temporary files
 * (they go to a tmpfs at {@value #SCRATCH}) and the package managers' lists, caches and logs that
 * change from run to run ({@link #CACHES}), so the same play on the same image gives the same
 * layer. Python writes no byte code ({@code PYTHONDONTWRITEBYTECODE=1}); {@code SOURCE_DATE_EPOCH},
 * when the build sets it, reaches the modules (so {@code useradd} stamps that day into {@code
 * /etc/shadow}, not today). Thread-safe.
 */
final class AnsibleProvisioner implements Provisioner {
  /**
   * A tmpfs in the container for Ansible's remote temporary and async files; never part of the
   * layer.
   */
  static final String SCRATCH = "/run/kiln-ansible";

  /**
   * What package managers write on every run and nobody needs in an image: never part of the layer.
   */
  static final List<String> CACHES =
      List.of(
          "/var/lib/apt/lists",
          "/var/cache/apt",
          "/var/log/apt",
          "/var/log/dpkg.log",
          "/var/log/alternatives.log",
          "/var/cache/ldconfig/aux-cache",
          "/var/cache/dnf",
          "/var/cache/yum",
          "/var/cache/apk",
          "/root/.ansible");

  /**
   * The container only waits, on its standard input, while Ansible works in it with docker exec.
   */
  static final String WAIT = "read _";

  static final String DEFAULT_PYTHON = "/usr/bin/python3";

  private final ContainerRunner runner;
  private final AnsiblePlaybook playbooks;

  AnsibleProvisioner(ContainerRunner runner, AnsiblePlaybook playbooks) {
    this.runner = runner;
    this.playbooks = playbooks;
  }

  @Override
  public String kind() {
    return "ansible";
  }

  @Override
  public PreparedLayer prepare(Layer layer, KeyContext ctx) throws BakeException {
    if (!(layer instanceof AnsibleLayer ans)) {
      throw new ProvisioningException(
          layer.name(),
          "layer kind 'ansible' must be a dev.kiln.AnsibleLayer, found "
              + layer.getClass().getName());
    }
    String name = ans.name();
    AnsiblePlaybook.checkInventoryVars(ans);
    if (!Files.isRegularFile(ans.playbook())) {
      throw new ProvisioningException(
          name, "the playbook '" + ans.playbook() + "' does not exist or is not a file");
    }
    for (Path r : ans.roles()) {
      if (!Files.isDirectory(r)) {
        throw new ProvisioningException(
            name, "the roles directory '" + r + "' does not exist or is not a directory");
      }
    }
    for (Path i : ans.includes()) {
      if (!Files.exists(i)) {
        throw new ProvisioningException(name, "the included path '" + i + "' does not exist");
      }
    }
    if (ans.vaultPasswordFile().isPresent()
        && !Files.isRegularFile(ans.vaultPasswordFile().get())) {
      throw new ProvisioningException(
          name,
          "the vault password file '"
              + ans.vaultPasswordFile().get()
              + "' does not exist or is not a file");
    }
    Path executable = playbooks.executable(name);
    String version = playbooks.version(name, executable);
    Digest tree;
    List<Digest> roles = new ArrayList<>();
    List<Digest> includes = new ArrayList<>();
    InputCheck check = new InputCheck();
    FileDigests files = check.recording(ctx.files());
    try {
      tree = AnsibleTree.playbookTree(ans.playbook(), files);
      for (Path r : ans.roles()) {
        roles.add(AnsibleTree.path(r, files));
      }
      for (Path i : ans.includes()) {
        includes.add(AnsibleTree.path(i, files));
      }
    } catch (IOException e) {
      throw new ProvisioningException(
          name,
          "could not read the playbook tree of '" + ans.playbook() + "': " + e.getMessage(),
          e);
    }
    return new PreparedLayer() {
      @Override
      public void fingerprint(Fingerprint fp) {
        fp.put("format", "ansible.v1");
        // the core version, not the whole line: the same ansible-core behaves the same whatever its
        // script is called
        fp.put("ansible-core", AnsiblePlaybook.coreVersion(version));
        fp.put("playbook", ans.playbook().getFileName().toString());
        fp.input("playbook tree", tree);
        for (int i = 0; i < roles.size(); i++) {
          fp.input("roles " + i, roles.get(i));
        }
        for (int i = 0; i < includes.size(); i++) {
          fp.input("include " + i, includes.get(i));
        }
        fp.put("inventory vars", AnsiblePlaybook.json(ans.inventoryVars()));
        fp.put("extra vars", AnsiblePlaybook.json(ans.extraVars()));
        fp.put("groups", ans.groups());
        fp.put("tags", ans.tags());
        fp.put("skip tags", ans.skipTags());
        fp.put("limit", ans.limit().orElse(""));
        fp.put("check", ans.isCheck() ? 1 : 0);
      }

      @Override
      public boolean needsParent() {
        return true;
      }

      @Override
      public LayerBlob provision(ProvisionContext pc) throws BakeException {
        // Ansible reads the tree itself while it plays: it must be what the key was computed from
        check.beforeRun(ans.name(), pc.files());
        LayerBlob blob = AnsibleProvisioner.this.provision(ans, executable, pc);
        check.afterRun(ans.name(), pc.files());
        return blob;
      }
    };
  }

  private LayerBlob provision(AnsibleLayer ans, Path executable, ProvisionContext pc)
      throws BakeException {
    String name = ans.name();
    if (AnsiblePlaybook.onPath("docker", System.getenv().getOrDefault("PATH", "")).isEmpty()) {
      throw new ProvisioningException(
          name,
          "Ansible's community.docker.docker connection needs the docker CLI on the"
              + " build machine's PATH, and it is not there: install it (Debian: 'apt-get install docker.io' or"
              + " docker-ce-cli)");
    }
    Map<String, String> env = new LinkedHashMap<>();
    env.put("PYTHONDONTWRITEBYTECODE", "1");
    String epoch = System.getenv("SOURCE_DATE_EPOCH");
    if (epoch != null && epoch.matches("\\d{1,12}")) {
      env.put("SOURCE_DATE_EPOCH", epoch);
    }
    ContainerRunner.Spec spec =
        new ContainerRunner.Spec(
            name,
            WAIT,
            env,
            null,
            null,
            List.of(),
            ans.timeout(),
            ans.network().orElse(null),
            line -> false,
            AnsibleLayer.HOST,
            List.of(SCRATCH),
            CACHES);
    Object python = ans.inventoryVars().get("ansible_python_interpreter");
    String interpreter = python instanceof String s && s.startsWith("/") ? s : DEFAULT_PYTHON;
    Path work;
    try {
      work = pc.newTempDirectory();
    } catch (IOException e) {
      throw new ProvisioningException(
          name, "could not make a temporary directory: " + e.getMessage(), e);
    }
    try {
      return runner
          .session(
              spec,
              pc,
              container -> {
                checkPython(name, container, interpreter);
                playbooks.run(
                    ans,
                    executable,
                    container.id(),
                    container.dockerHost().toString(),
                    interpreter,
                    work,
                    pc);
              })
          .blob();
    } finally {
      try {
        MoreFiles.deleteRecursively(work, RecursiveDeleteOption.ALLOW_INSECURE);
      } catch (IOException e) {
        // the bake's temp area is swept at the end
      }
    }
  }

  /**
   * Fails with what to do when the image has no python for Ansible's modules, before the play
   * starts.
   */
  private static void checkPython(String layer, ContainerRunner.Container c, String interpreter)
      throws ProvisioningException {
    ContainerRunner.ExecResult r = c.exec(List.of(interpreter, "--version"), Duration.ofMinutes(1));
    if (r.exitCode() != 0 || !r.output().strip().startsWith("Python 3")) {
      throw new ProvisioningException(
          layer,
          "the image has no "
              + interpreter
              + ", which Ansible runs its modules with"
              + (r.output().isBlank() ? "" : " (" + r.output().strip() + ")")
              + ": add a layer that installs python3"
              + " (for example Layer.packages(\"python3\")) or use a base that has it");
    }
  }
}
