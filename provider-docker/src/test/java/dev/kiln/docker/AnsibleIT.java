package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.AnsibleLayer;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.ProvisioningException;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.Tools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #4 (Ansible layers), done-when 1-3, against real Ansible and a real Docker engine: a Debian
 * base from mmdebstrap plus a role that creates a user and directories, templates a configuration
 * and runs a handler; what the image holds, what rebuilds when, a failing task, a vault, and the
 * clear errors. Done-when 4 (one provisioning for {@code docker-daemon:} and {@code raw:}) is
 * {@link AnsibleDiskIT}.
 */
class AnsibleIT {
  private static final String IMAGE = "kiln-it/ansible-web:1";
  private static final String FAILING = "kiln-it/ansible-failing:1";
  private static String docker;
  private static Path debian;

  @TempDir Path tmp;

  @BeforeAll
  static void tools() throws Exception {
    docker = DockerTesting.docker();
    Tools.require("ansible-playbook", "ansible");
    debian = PackagesIT.debianRootfs();
  }

  @AfterAll
  static void cleanUp() {
    DockerTesting.removeImages(IMAGE, FAILING);
    DockerTesting.removeParentImages();
  }

  /**
   * A copy of the test playbook inside a "repository" that also holds files Ansible never reads.
   */
  static Path checkout(Path dir) throws Exception {
    Path src = Path.of(AnsibleIT.class.getResource("/ansible/web").toURI());
    Path ansible = dir.resolve("ansible");
    try (Stream<Path> s = Files.walk(src)) {
      for (Path p : s.toList()) {
        Path to = ansible.resolve(src.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(to);
        } else {
          Files.copy(p, to);
        }
      }
    }
    Files.writeString(dir.resolve("README.md"), "# a repository with a playbook in ansible/\n");
    Files.writeString(ansible.resolve("NOTES.txt"), "not Ansible content\n");
    return ansible.resolve("site.yml");
  }

  static ImageBuild web(Path debian, Path playbook, int port) {
    return ImageBuild.from(Base.rootfs(debian))
        .layer(
            Layer.files("below")
                .content("/etc/kiln-below", "below\n".getBytes(StandardCharsets.UTF_8), 0644))
        .layer(
            Layer.ansible(playbook)
                .named("web role")
                .groups("webservers")
                .extraVars(Map.of("web_port", port)))
        .layer(
            Layer.files("above")
                .content("/etc/kiln-above", "above\n".getBytes(StandardCharsets.UTF_8), 0644));
  }

  private String inImage(String script) {
    return Tools.run(docker, "run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c", script)
        .ok()
        .output();
  }

  /**
   * Done-when 1 and 2: content, owners and modes; what a change rebuilds; the same layer from a
   * fresh store.
   */
  @Test
  void aRoleBecomesALayerThatRebuildsOnlyWhenItsTreeOrVariablesChange() throws Exception {
    Path playbook = checkout(tmp.resolve("repo"));
    RecordingListener events = new RecordingListener();
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store")).listener(events).build()) {
      BakeResult r = kiln.bake(web(debian, playbook, 8080), "docker-daemon:" + IMAGE);
      assertThat(events.provisioned())
          .containsExactlyInAnyOrder("rootfs", "below", "web role", "above");
      List<String> output =
          events.of(BakeEvent.Output.class).stream()
              .filter(o -> o.layer().equals("web role"))
              .map(BakeEvent.Output::line)
              .toList();
      assertThat(output)
          .contains(
              "TASK [web : write the configuration]",
              "RUNNING HANDLER [web : stamp the configuration]",
              "changed: [kiln-image]");
      assertThat(output)
          .anyMatch(l -> l.startsWith("PLAY RECAP kiln-image: ok=") && l.contains("failed=0"));

      // done-when 1: what docker run shows
      assertThat(inImage("getent passwd www-app; getent group www-app"))
          .isEqualTo("www-app:x:1501:1501::/home/www-app:/usr/sbin/nologin\nwww-app:x:1501:\n");
      assertThat(
              inImage(
                  "stat -c '%n %U:%G %u:%g %a %F' /srv/web /etc/web /etc/web/web.conf /usr/local/bin/web-start"
                      + " /srv/web/config.sha256"))
          .isEqualTo(
              """
          /srv/web www-app:www-app 1501:1501 2750 directory
          /etc/web root:root 0:0 755 directory
          /etc/web/web.conf root:www-app 0:1501 640 regular file
          /usr/local/bin/web-start root:root 0:0 755 regular file
          /srv/web/config.sha256 root:www-app 0:1501 600 regular file
          """);
      assertThat(inImage("cat /etc/web/web.conf"))
          .isEqualTo(
              """
          # managed by Ansible
          greeting = hello from group_vars
          port = 8080
          host = kiln-image
          groups = webservers
          """);
      // the handler ran after the template: its stamp is the configuration's digest
      assertThat(inImage("cd /srv/web && sha256sum -c config.sha256"))
          .isEqualTo("/etc/web/web.conf: OK\n");
      assertThat(inImage("/usr/local/bin/web-start")).isEqualTo("web would start on port 8080\n");

      // exactly what the play changed: no Ansible temporary files, byte code or the container's
      // mount point
      LayerRecord ansible = r.layers().get(2);
      assertThat(ansible.name()).isEqualTo("web role");
      List<String> paths = paths(tmp.resolve("store"), ansible.digest());
      assertThat(paths)
          .contains(
              "etc/web/web.conf",
              "srv/web/config.sha256",
              "usr/local/bin/web-start",
              "etc/passwd",
              "etc/shadow");
      assertThat(paths)
          .noneMatch(
              p ->
                  p.startsWith("run")
                      || p.startsWith("root/")
                      || p.contains("__pycache__")
                      || p.startsWith("tmp/")
                      || p.contains("ansible")
                      || p.startsWith("var/cache/")
                      || p.equals("etc/hostname"));
      assertThat(ansible.inputs()).extracting(i -> i.name()).containsExactly("playbook tree");
      Digest diffId = ansible.diffId();

      // done-when 2: unchanged, an unrelated file, a touched playbook: nothing is provisioned,
      // Ansible does not run
      events.clear();
      Files.writeString(
          playbook.getParent().getParent().resolve("README.md"),
          "edited\n",
          StandardOpenOption.APPEND);
      Files.writeString(
          playbook.getParent().resolve("NOTES.txt"), "edited\n", StandardOpenOption.APPEND);
      Files.setLastModifiedTime(playbook, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
      BakeResult again = kiln.bake(web(debian, playbook, 8080), "docker-daemon:" + IMAGE);
      assertThat(events.provisioned()).isEmpty();
      assertThat(events.of(BakeEvent.LayerStarted.class)).isEmpty();
      assertThat(events.of(BakeEvent.Output.class)).noneMatch(o -> o.layer().equals("web role"));
      assertThat(again.digest()).isEqualTo(r.digest());

      // editing the role's template: that layer and the one above, not the one below
      events.clear();
      Path template = playbook.resolveSibling("roles/web/templates/web.conf.j2");
      Files.writeString(template, "edited = yes\n", StandardOpenOption.APPEND);
      BakeResult edited = kiln.bake(web(debian, playbook, 8080), "docker-daemon:" + IMAGE);
      assertThat(events.provisioned()).containsExactlyInAnyOrder("web role", "above");
      assertThat(inImage("tail -n 1 /etc/web/web.conf")).isEqualTo("edited = yes\n");
      assertThat(edited.layers().get(1).diffId()).isEqualTo(r.layers().get(1).diffId());

      // changing an extra variable
      events.clear();
      kiln.bake(web(debian, playbook, 9090), "docker-daemon:" + IMAGE);
      assertThat(events.provisioned()).containsExactlyInAnyOrder("web role", "above");
      assertThat(inImage("grep port /etc/web/web.conf")).isEqualTo("port = 9090\n");

      // back to the first definition: the cache answers
      events.clear();
      Files.writeString(template, Files.readString(template).replace("edited = yes\n", ""));
      assertThat(kiln.bake(web(debian, playbook, 8080), "docker-daemon:" + IMAGE).digest())
          .isEqualTo(r.digest());
      assertThat(events.provisioned()).isEmpty();

      // the same play on the same image, from another checkout into a fresh store: the same layer
      Path other = checkout(tmp.resolve("other-checkout"));
      try (Kiln fresh = Fixtures.debianStore(tmp.resolve("fresh-store")).build()) {
        BakeResult second = fresh.bake(web(debian, other, 8080));
        assertThat(second.provisioned()).contains("web role");
        assertThat(second.layers().get(2).key()).isEqualTo(ansible.key());
        assertThat(second.layers().get(2).diffId()).isEqualTo(diffId);
      }
    }
  }

  /** Done-when 3: a failing task's name and message, and nothing left behind in the daemon. */
  @Test
  void aFailingTaskIsAProvisioningExceptionWithItsNameAndMessage() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("failing"));
    Files.writeString(
        dir.resolve("site.yml"),
        """
        - hosts: all
          gather_facts: false
          tasks:
            - name: a task that works
              ansible.builtin.copy: {dest: /etc/first, content: "1\\n"}
            - name: list a directory that is not there
              ansible.builtin.command: ls /no/such/directory
            - name: never reached
              ansible.builtin.copy: {dest: /etc/never, content: "x\\n"}
        """);
    DockerState before = DockerState.now();
    RecordingListener events = new RecordingListener();
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store")).listener(events).build()) {
      assertThatThrownBy(
              () ->
                  kiln.bake(
                      ImageBuild.from(Base.rootfs(debian))
                          .layer(Layer.ansible(dir.resolve("site.yml"))),
                      "docker-daemon:" + FAILING))
          .isInstanceOfSatisfying(
              PlaybookFailedException.class,
              e -> {
                assertThat(e.layer()).isEqualTo("ansible site.yml");
                assertThat(e.task()).isEqualTo("list a directory that is not there");
                assertThat(e.host()).isEqualTo(AnsibleLayer.HOST);
                assertThat(e.taskMessage())
                    .contains("non-zero return code")
                    .contains("ls: cannot access '/no/such/directory': No such file or directory");
                assertThat(e.getMessage())
                    .contains(
                        "task 'list a directory that is not there' failed on kiln-image:",
                        "No such file or directory");
                assertThat(e.exitCode()).hasValue(2);
              });
    }
    assertThat(events.of(BakeEvent.Output.class))
        .extracting(BakeEvent.Output::line)
        .contains("TASK [list a directory that is not there]")
        .anyMatch(
            l ->
                l.startsWith(
                    "fatal: [kiln-image]: FAILED! task 'list a directory that is not there'"))
        .doesNotContain("TASK [never reached]");
    assertThat(DockerState.now().containers()).isEqualTo(before.containers());
    assertThat(Tools.run(docker, "image", "inspect", FAILING).exit()).isNotZero();
  }

  /**
   * Done-when 3: vaulted variables decrypt with the password file, which is in no layer and not in
   * the key.
   */
  @Test
  void aVaultPasswordFileIsUsedAndIsInNoLayer() throws Exception {
    String password =
        "kiln-vault-password-" + Long.toHexString(Double.doubleToLongBits(Math.random()));
    Path secrets = Files.createDirectories(tmp.resolve("secrets"));
    Path passwordFile = Files.writeString(secrets.resolve("vault-pass"), password + "\n");
    Path dir = Files.createDirectories(tmp.resolve("vaulted/group_vars/all"));
    Files.writeString(dir.resolve("vault.yml"), "vault_api_token: s3cr3t-token-42\n");
    Tools.run(
            "ansible-vault",
            "encrypt",
            "--vault-password-file",
            passwordFile.toString(),
            dir.resolve("vault.yml").toString())
        .ok();
    assertThat(Files.readString(dir.resolve("vault.yml"))).startsWith("$ANSIBLE_VAULT;1.1;AES256");
    Path playbook =
        Files.writeString(
            tmp.resolve("vaulted/site.yml"),
            """
        - hosts: all
          gather_facts: false
          tasks:
            - name: write the token
              ansible.builtin.copy: {dest: /etc/api-token, content: "{{ vault_api_token }}\\n", mode: "0600"}
        """);
    Path store = tmp.resolve("store");
    String image = "kiln-it/ansible-vault:1";
    try (Kiln kiln = Fixtures.debianStore(store).build()) {
      AnsibleLayer layer = Layer.ansible(playbook).vaultPasswordFile(passwordFile);
      BakeResult r =
          kiln.bake(ImageBuild.from(Base.rootfs(debian)).layer(layer), "docker-daemon:" + image);
      assertThat(Tools.run(docker, "run", "--rm", image, "cat", "/etc/api-token").ok().output())
          .isEqualTo("s3cr3t-token-42\n");
      for (String blob : DockerTesting.decompressedBlobs(store)) {
        assertThat(blob).doesNotContain(password).doesNotContain(secrets.toString());
      }
      assertThat(Files.readString(r.record()))
          .doesNotContain(password)
          .doesNotContain(secrets.toString());

      // the password file moved: the key does not change, the cache answers
      Path moved = Files.writeString(tmp.resolve("elsewhere-pass"), password + "\n");
      BakeResult again =
          kiln.bake(
              ImageBuild.from(Base.rootfs(debian))
                  .layer(Layer.ansible(playbook).vaultPasswordFile(moved)));
      assertThat(again.provisioned()).isEmpty();
      assertThat(again.digest()).isEqualTo(r.digest());

      // without the password the play cannot decrypt the vault: a clear error
      assertThatThrownBy(
              () ->
                  kiln.bake(
                      ImageBuild.from(Base.rootfs(debian))
                          .layer(Layer.ansible(playbook).extraVars(Map.of("force_rebuild", 1)))))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining("vault");
    } finally {
      DockerTesting.removeImages(image);
    }
  }

  /** Tags, skipped tags and check mode decide what the layer holds. */
  @Test
  void tagsAndCheckModeSelectWhatRuns() throws Exception {
    Path playbook = checkout(tmp.resolve("repo"));
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store")).build()) {
      AnsibleLayer base = Layer.ansible(playbook).groups("webservers");
      BakeResult tagged = kiln.bake(ImageBuild.from(Base.rootfs(debian)).layer(base.tags("user")));
      assertThat(paths(tmp.resolve("store"), tagged.layers().get(1).digest()))
          .contains("etc/passwd")
          .doesNotContain("etc/web/web.conf", "srv/web");

      BakeResult skipped =
          kiln.bake(
              ImageBuild.from(Base.rootfs(debian))
                  .layer(base.skipTags("script").limit("webservers")));
      assertThat(paths(tmp.resolve("store"), skipped.layers().get(1).digest()))
          .contains("etc/passwd", "etc/web/web.conf")
          .doesNotContain("usr/local/bin/web-start");

      BakeResult check = kiln.bake(ImageBuild.from(Base.rootfs(debian)).layer(base.check()));
      assertThat(paths(tmp.resolve("store"), check.layers().get(1).digest())).isEmpty();
      assertThat(check.layers().get(1).key()).isNotEqualTo(tagged.layers().get(1).key());
    }
  }

  /** The image below has no python3: a clear error before the play starts. */
  @Test
  void anImageWithoutPython3IsAClearError() throws Exception {
    Path playbook = checkout(tmp.resolve("repo"));
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store")).build()) {
      assertThatThrownBy(
              () ->
                  kiln.bake(
                      ImageBuild.from(Base.rootfs(Busybox.rootfs(tmp)))
                          .layer(Layer.ansible(playbook))))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining("the image has no /usr/bin/python3")
          .hasMessageContaining("add a layer that installs python3");
    }
  }

  /** No ansible-playbook: a clear error that says what to install. */
  @Test
  void aMissingAnsiblePlaybookIsAClearError() throws Exception {
    Path playbook = checkout(tmp.resolve("repo"));
    DockerProvisioners docker =
        DockerProvisioners.builder()
            .ansiblePlaybook(tmp.resolve("no-ansible/ansible-playbook"))
            .build();
    try (Kiln kiln =
        Fixtures.debianStore(tmp.resolve("store")).provisioner(docker.ansible()).build()) {
      assertThatThrownBy(
              () -> kiln.bake(ImageBuild.from(Base.rootfs(debian)).layer(Layer.ansible(playbook))))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining(
              "ansible-playbook was not found at " + tmp.resolve("no-ansible/ansible-playbook"))
          .hasMessageContaining("apt-get install ansible")
          .hasMessageContaining("pip install ansible");
    }
  }

  /** The non-directory paths of a layer blob. */
  static List<String> paths(Path store, Digest blob) throws Exception {
    List<String> out = new ArrayList<>();
    try (LayerReader reader = LayerReader.open(DockerTesting.blob(store, blob))) {
      LayerEntry e;
      while ((e = reader.next()) != null) {
        if (e.type() != LayerEntry.Type.DIRECTORY) {
          out.add(e.path());
        }
      }
    }
    return out;
  }
}
