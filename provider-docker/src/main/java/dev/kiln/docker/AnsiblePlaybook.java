package dev.kiln.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.AnsibleLayer;
import dev.kiln.ProvisioningException;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.KeyContext;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ansible-playbook} on the build machine: finding it, its version (part of every Ansible
 * layer's key), and one run against a container through the {@code community.docker.docker}
 * connection, with its output turned into events and its failure into a {@link
 * PlaybookFailedException}. Thread-safe.
 *
 * <p>Why the docker connection: it runs every module with {@code docker exec} in the container and
 * copies files in with {@code dd} over {@code docker exec}, so nothing of the build machine is
 * mounted into the image and the layer is exactly what the play changed. It ships with Debian's
 * {@code ansible} and needs only the docker CLI.
 */
final class AnsiblePlaybook {
  static final String EXECUTABLE = "ansible-playbook";

  /** The marker the callback plugin puts before each of its JSON lines. */
  static final String EVENT_PREFIX = "KILN-EVENT ";

  static final String INSTALL_HINT =
      "install Ansible on the build machine: on Debian or Ubuntu 'apt-get install ansible'"
          + " (ansible-core with the community.docker collection), elsewhere 'pip install ansible'";
  private static final Pattern CORE_VERSION = Pattern.compile("\\[core ([^\\]]+)\\]");
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

  private final Path configured;
  private final Map<Path, String> versions = new ConcurrentHashMap<>();

  /**
   * {@code executable}: an explicit path, or null to look {@value #EXECUTABLE} up on {@code PATH}.
   */
  AnsiblePlaybook(Path executable) {
    this.configured = executable;
  }

  /** The executable to run, or a clear error naming what to install. */
  Path executable(String layer) throws ProvisioningException {
    if (configured != null) {
      if (!Files.isExecutable(configured) || Files.isDirectory(configured)) {
        throw new ProvisioningException(
            layer,
            "ansible-playbook was not found at "
                + configured
                + ": "
                + INSTALL_HINT
                + ", or configure its path with DockerProvisioners.builder().ansiblePlaybook(...)");
      }
      return configured;
    }
    String path = System.getenv().getOrDefault("PATH", "");
    return onPath(EXECUTABLE, path)
        .orElseThrow(
            () ->
                new ProvisioningException(
                    layer,
                    "ansible-playbook was not found on PATH (" + path + "): " + INSTALL_HINT));
  }

  /** The first executable {@code name} in the directories of {@code path}. */
  static Optional<Path> onPath(String name, String path) {
    for (String dir : path.split(":")) {
      if (dir.isEmpty()) {
        continue;
      }
      Path p = Path.of(dir, name);
      if (Files.isExecutable(p) && !Files.isDirectory(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /**
   * The version line of {@code ansible-playbook --version} ({@code ansible-playbook [core
   * 2.14.18]}), asked once per executable for the life of this object.
   */
  String version(String layer, Path executable) throws ProvisioningException {
    String v = versions.get(executable);
    if (v != null) {
      return v;
    }
    Path tmp = null;
    try {
      tmp = Files.createTempFile("kiln-ansible-version", ".out");
      ProcessBuilder pb =
          new ProcessBuilder(executable.toString(), "--version")
              .redirectErrorStream(true)
              .redirectOutput(tmp.toFile());
      sanitize(pb.environment());
      Process p = pb.start();
      p.getOutputStream().close();
      if (!p.waitFor(2, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new ProvisioningException(
            layer, executable + " --version did not answer within 2 minutes");
      }
      String out = Files.readString(tmp, StandardCharsets.UTF_8);
      if (p.exitValue() != 0 || out.isBlank()) {
        throw new ProvisioningException(
            layer,
            executable
                + " --version failed (exit code "
                + p.exitValue()
                + "): "
                + out.strip()
                + "; "
                + INSTALL_HINT);
      }
      v = out.strip().lines().findFirst().orElseThrow().strip();
      versions.putIfAbsent(executable, v);
      return v;
    } catch (IOException e) {
      throw new ProvisioningException(
          layer,
          "could not run " + executable + " --version: " + e.getMessage() + "; " + INSTALL_HINT,
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProvisioningException(
          layer, "interrupted while asking " + executable + " for its version", e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException e) {
          // a few bytes in the system temp directory
        }
      }
    }
  }

  /**
   * The ansible-core version in a version line, or the line itself when it has no {@code [core …]}.
   */
  static String coreVersion(String versionLine) {
    Matcher m = CORE_VERSION.matcher(versionLine);
    return m.find() ? m.group(1) : versionLine;
  }

  /**
   * Removes the build machine's {@code ANSIBLE_*} settings: what the play does must depend on the
   * layer's options only, which the key covers, not on a developer's shell.
   */
  static void sanitize(Map<String, String> env) {
    env.keySet().removeIf(k -> k.startsWith("ANSIBLE_"));
  }

  /** The canonical JSON of variables (keys sorted), for the key and for the files Ansible reads. */
  static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (IOException e) {
      throw new IllegalStateException("cannot write variables as JSON", e);
    }
  }

  /** One finished run: the recap and the warnings. */
  record Outcome(List<String> tail) {}

  /**
   * Runs the play against {@code containerId}. Writes the inventory, the extra variables, an empty
   * configuration and the callback plugin into {@code work} (a fresh directory of the build
   * machine, never in the playbook tree).
   */
  Outcome run(
      AnsibleLayer layer,
      Path executable,
      String containerId,
      String dockerHost,
      String python,
      Path work,
      KeyContext ctx)
      throws ProvisioningException {
    String name = layer.name();
    List<String> cmd = new ArrayList<>();
    Map<String, String> env;
    try {
      cmd.add(executable.toString());
      cmd.add("-i");
      cmd.add(
          write(work.resolve("inventory.json"), json(inventory(layer, containerId, python)))
              .toString());
      if (!layer.extraVars().isEmpty()) {
        cmd.add("--extra-vars");
        cmd.add("@" + write(work.resolve("extra-vars.json"), json(layer.extraVars())));
      }
      if (!layer.tags().isEmpty()) {
        cmd.add("--tags");
        cmd.add(String.join(",", layer.tags()));
      }
      if (!layer.skipTags().isEmpty()) {
        cmd.add("--skip-tags");
        cmd.add(String.join(",", layer.skipTags()));
      }
      if (layer.limit().isPresent()) {
        cmd.add("--limit");
        cmd.add(layer.limit().get());
      }
      if (layer.isCheck()) {
        cmd.add("--check");
      }
      if (layer.vaultPasswordFile().isPresent()) {
        // read by ansible-playbook here, on the build machine; the container never sees the file
        cmd.add("--vault-password-file");
        cmd.add(layer.vaultPasswordFile().get().toString());
      }
      cmd.add(layer.playbook().toString());

      Path callbacks = Files.createDirectories(work.resolve("callback_plugins"));
      try (InputStream in = AnsiblePlaybook.class.getResourceAsStream("ansible/kiln_events.py")) {
        if (in == null) {
          throw new IOException(
              "the callback plugin dev/kiln/docker/ansible/kiln_events.py is missing from the class path");
        }
        Files.copy(in, callbacks.resolve("kiln_events.py"));
      }
      Path config =
          write(
              work.resolve("ansible.cfg"),
              "# empty: Kiln sets everything through the environment\n");
      Path roles = layer.playbook().getParent().resolve("roles");
      List<String> rolesPath = new ArrayList<>();
      rolesPath.add(roles.toString());
      layer.roles().forEach(r -> rolesPath.add(r.toString()));

      env = new LinkedHashMap<>();
      // no ansible.cfg of the build machine (./ansible.cfg, ~/.ansible.cfg, /etc/ansible): only
      // what the key covers
      env.put("ANSIBLE_CONFIG", config.toString());
      // the stdout callback is ours: Ansible's default one prints for humans (its format changes
      // between versions)
      // and the json/jsonl callbacks are in ansible.posix, which ansible-core alone does not have;
      // ours prints one
      // JSON line per play, task, handler, result and recap, through the callback API v2 of every
      // ansible-core
      env.put("ANSIBLE_STDOUT_CALLBACK", "kiln_events");
      env.put("ANSIBLE_CALLBACK_PLUGINS", callbacks.toString());
      env.put("ANSIBLE_CALLBACKS_ENABLED", "");
      env.put("ANSIBLE_INVENTORY_ENABLED", "yaml");
      env.put("ANSIBLE_ROLES_PATH", String.join(":", rolesPath));
      env.put("ANSIBLE_LOCAL_TEMP", Files.createDirectories(work.resolve("local-tmp")).toString());
      env.put("ANSIBLE_RETRY_FILES_ENABLED", "false");
      env.put("ANSIBLE_HOST_KEY_CHECKING", "false");
      env.put("ANSIBLE_NOCOWS", "true");
      env.put("ANSIBLE_NOCOLOR", "true");
      env.put("ANSIBLE_FORCE_COLOR", "false");
      // modules go to the container's python over docker exec's stdin: fewer temporary files,
      // faster
      env.put("ANSIBLE_PIPELINING", "true");
      env.put("PYTHONDONTWRITEBYTECODE", "1");
      env.put("PYTHONUNBUFFERED", "1");
      env.put("DOCKER_HOST", dockerHost);
    } catch (IOException e) {
      throw new ProvisioningException(
          name, "could not prepare the Ansible run in " + work + ": " + e.getMessage(), e);
    }

    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
    sanitize(pb.environment());
    pb.environment().putAll(env);
    Process process;
    try {
      process = pb.start();
    } catch (IOException e) {
      throw new ProvisioningException(
          name, "could not start " + executable + ": " + e.getMessage() + "; " + INSTALL_HINT, e);
    }
    Events events = new Events(name, ctx);
    Thread err = reader(process.getErrorStream(), events::plain, "kiln-ansible-stderr");
    Thread out = reader(process.getInputStream(), events::stdout, "kiln-ansible-stdout");
    int exit;
    try {
      process.getOutputStream().close();
      if (!process.waitFor(layer.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
        join(out, err);
        throw new ProvisioningException(
            name,
            "the play did not finish within "
                + ContainerRunner.human(layer.timeout())
                + " and was stopped"
                + events.lastTask().map(t -> " (in task '" + t + "')").orElse(""),
            null,
            events.tail(),
            null);
      }
      exit = process.exitValue();
      join(out, err);
    } catch (IOException e) {
      process.destroyForcibly();
      throw new ProvisioningException(
          name, "could not talk to ansible-playbook: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new ProvisioningException(name, "interrupted while the play ran", e);
    }
    if (exit != 0) {
      throw events.failure(exit);
    }
    return new Outcome(events.tail());
  }

  /**
   * Inventory variables this provisioner sets besides the connection variables core reserves for
   * every provisioner: the Docker connection plugin's and where Ansible's temporary files go (a
   * tmpfs kept out of the layer).
   */
  private static final Pattern DOCKER_RESERVED =
      Pattern.compile("ansible_(docker_.*|remote_tmp|async_dir)");

  /** Refuses inventory variables of the layer that {@link #inventory} sets itself. */
  static void checkInventoryVars(AnsibleLayer layer) throws ProvisioningException {
    for (String k : layer.inventoryVars().keySet()) {
      if (DOCKER_RESERVED.matcher(k).matches()) {
        throw new ProvisioningException(
            layer.name(),
            "inventory variable '"
                + k
                + "' is set by Kiln (it connects "
                + "Ansible to the container and keeps its temporary files out of the layer); remove it from inventoryVars");
      }
    }
  }

  /** The inventory: one host, the container, in group {@code all} and the layer's groups. */
  static Map<String, Object> inventory(AnsibleLayer layer, String containerId, String python) {
    Map<String, Object> vars = new LinkedHashMap<>(layer.inventoryVars());
    vars.put("ansible_connection", "community.docker.docker");
    vars.put("ansible_host", containerId);
    vars.putIfAbsent("ansible_python_interpreter", python);
    // Ansible's temporary files go to a tmpfs that is never part of the layer
    vars.put("ansible_remote_tmp", AnsibleProvisioner.SCRATCH + "/tmp");
    vars.put("ansible_async_dir", AnsibleProvisioner.SCRATCH + "/async");
    Map<String, Object> children = new LinkedHashMap<>();
    for (String g : layer.groups()) {
      children.put(g, Map.of("hosts", Map.of(AnsibleLayer.HOST, Map.of())));
    }
    Map<String, Object> all = new LinkedHashMap<>();
    all.put("hosts", Map.of(AnsibleLayer.HOST, vars));
    if (!children.isEmpty()) {
      all.put("children", children);
    }
    return Map.of("all", all);
  }

  private static Path write(Path file, String content) throws IOException {
    return Files.writeString(file, content, StandardCharsets.UTF_8);
  }

  private static Thread reader(InputStream in, Consumer<String> lines, String name) {
    Thread t =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  lines.accept(line);
                }
              } catch (IOException e) {
                // the process is gone; what was read is what there is
              }
            },
            name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static void join(Thread... threads) throws InterruptedException {
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(30));
    }
  }

  /**
   * What the play printed: callback events rendered for people as {@link BakeEvent.Output} lines
   * ({@code TASK [...]} for progress), other lines (warnings, errors) as they are; the last failure
   * is kept for the exception.
   */
  static final class Events {
    private final String layer;
    private final KeyContext ctx;
    private final Deque<String> tail = new ArrayDeque<>();
    private final List<String> errors = new ArrayList<>();
    private String task;
    private Failure failure;

    /** A failed task: its name, the host, and Ansible's message. */
    record Failure(String task, String host, String message) {}

    Events(String layer, KeyContext ctx) {
      this.layer = layer;
      this.ctx = ctx;
    }

    synchronized void stdout(String line) {
      if (!line.startsWith(EVENT_PREFIX)) {
        plain(line);
        return;
      }
      JsonNode e;
      try {
        e = JSON.readTree(line.substring(EVENT_PREFIX.length()));
      } catch (IOException ex) {
        plain(line);
        return;
      }
      String host = e.path("host").asText();
      String item = e.hasNonNull("item") ? " => (item=" + e.path("item").asText() + ")" : "";
      switch (e.path("event").asText()) {
        case "play" -> show("PLAY [" + e.path("name").asText() + "]");
        case "task" -> {
          task = e.path("name").asText();
          show("TASK [" + task + "]");
        }
        case "handler" -> {
          task = e.path("name").asText();
          show("RUNNING HANDLER [" + task + "]");
        }
        case "ok", "changed" -> {
          String msg =
              e.path("action").asText().endsWith("debug") && e.hasNonNull("msg")
                  ? " => " + e.path("msg").asText()
                  : "";
          show(e.path("event").asText() + ": [" + host + "]" + item + msg);
        }
        case "skipped" -> show("skipping: [" + host + "]" + item);
        case "failed", "unreachable" -> {
          String msg = message(e);
          boolean ignored = e.path("ignored").asBoolean(false);
          boolean unreachable = e.path("event").asText().equals("unreachable");
          show(
              (unreachable ? "unreachable" : "fatal")
                  + ": ["
                  + host
                  + "]"
                  + item
                  + ": FAILED! task '"
                  + e.path("task").asText()
                  + "': "
                  + msg
                  + (ignored ? " (ignored)" : ""));
          if (!ignored && e.path("item").isMissingNode()) {
            failure = new Failure(e.path("task").asText(), host, msg);
          }
        }
        case "no_hosts" ->
            ctx.emit(
                new BakeEvent.Warning(
                    "layer '"
                        + layer
                        + "': a play matched no host, so it did"
                        + " not run: put the image into its groups with .groups(...)"));
        case "stats" ->
            e.path("hosts")
                .fields()
                .forEachRemaining(
                    h -> {
                      JsonNode s = h.getValue();
                      show(
                          "PLAY RECAP "
                              + h.getKey()
                              + ": ok="
                              + s.path("ok").asInt()
                              + " changed="
                              + s.path("changed").asInt()
                              + " unreachable="
                              + s.path("unreachable").asInt()
                              + " failed="
                              + s.path("failures").asInt()
                              + " skipped="
                              + s.path("skipped").asInt()
                              + " rescued="
                              + s.path("rescued").asInt()
                              + " ignored="
                              + s.path("ignored").asInt());
                    });
        default -> {
          // an event this version does not show
        }
      }
    }

    /**
     * Ansible's message for a failed result: {@code msg}, with the command's error output when
     * there is one.
     */
    private static String message(JsonNode e) {
      String msg = e.path("msg").asText("").strip();
      String stderr = e.path("stderr").asText("").strip();
      if (msg.isEmpty()) {
        msg = stderr.isEmpty() ? e.path("stdout").asText("").strip() : stderr;
      } else if (!stderr.isEmpty() && !msg.contains(stderr)) {
        msg = msg + ": " + stderr;
      }
      if (e.has("rc") && !msg.contains("rc=")) {
        msg = msg + " (rc=" + e.path("rc").asText() + ")";
      }
      return msg.isEmpty() ? "(no message)" : msg;
    }

    synchronized void plain(String line) {
      if (line.startsWith("ERROR!")) {
        errors.add(line);
      } else if (!errors.isEmpty() && errors.size() < 20 && !line.isBlank()) {
        errors.add(
            line); // an error goes on over the next lines (the offending line of YAML, its column)
      }
      show(line);
    }

    private void show(String line) {
      tail.addLast(line);
      if (tail.size() > ContainerRunner.TAIL_LINES) {
        tail.removeFirst();
      }
      ctx.emit(new BakeEvent.Output(layer, line));
    }

    synchronized List<String> tail() {
      return List.copyOf(tail);
    }

    synchronized Optional<String> lastTask() {
      return Optional.ofNullable(task);
    }

    /**
     * The exception for a play that ended with {@code exit}: the failed task if one failed, else
     * Ansible's error.
     */
    synchronized ProvisioningException failure(int exit) {
      if (failure != null) {
        return new PlaybookFailedException(
            layer, failure.task(), failure.host(), failure.message(), exit, tail());
      }
      String all = String.join("\n", errors);
      String msg = errors.isEmpty() ? "ansible-playbook failed" : all;
      if (all.contains("community.docker.docker") && all.contains("not found")) {
        msg +=
            "\nthe community.docker collection is missing: 'ansible-galaxy collection install community.docker'"
                + " (Debian's ansible package includes it)";
      }
      return new ProvisioningException(layer, msg, exit, tail(), null);
    }
  }
}
