package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.KeyContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnsiblePlaybookTest {
  @TempDir Path tmp;

  private final List<BakeEvent> emitted = new ArrayList<>();
  private final KeyContext ctx =
      new KeyContext() {
        @Override
        public FileDigests files() {
          throw new UnsupportedOperationException();
        }

        @Override
        public void emit(BakeEvent event) {
          emitted.add(event);
        }

        @Override
        public Path newTempDirectory() {
          throw new UnsupportedOperationException();
        }
      };

  @Test
  void findsTheExecutableOnPathOrSaysWhatToInstall() throws Exception {
    Path bin = Files.createDirectories(tmp.resolve("bin"));
    assertThat(AnsiblePlaybook.onPath("ansible-playbook", tmp + ":" + bin)).isEmpty();
    Path exe = Files.writeString(bin.resolve("ansible-playbook"), "#!/bin/sh\n");
    assertThat(AnsiblePlaybook.onPath("ansible-playbook", tmp + ":" + bin))
        .isEmpty(); // not executable
    Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwxr-xr-x"));
    assertThat(AnsiblePlaybook.onPath("ansible-playbook", "::" + tmp + ":" + bin)).hasValue(exe);

    assertThatThrownBy(() -> new AnsiblePlaybook(tmp.resolve("nope")).executable("web"))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining("ansible-playbook was not found at " + tmp.resolve("nope"))
        .hasMessageContaining("apt-get install ansible");
  }

  @Test
  void readsTheCoreVersion() {
    assertThat(AnsiblePlaybook.coreVersion("ansible-playbook [core 2.14.18]")).isEqualTo("2.14.18");
    assertThat(AnsiblePlaybook.coreVersion("ansible-playbook 2.9.27"))
        .isEqualTo("ansible-playbook 2.9.27");
  }

  @Test
  void dropsTheBuildMachinesAnsibleSettings() {
    Map<String, String> env =
        new HashMap<>(Map.of("PATH", "/bin", "ANSIBLE_ROLES_PATH", "/x", "ANSIBLE_CONFIG", "/y"));
    AnsiblePlaybook.sanitize(env);
    assertThat(env).containsOnlyKeys("PATH");
  }

  @Test
  void theInventoryIsOneHostInItsGroupsWithKilnsConnection() {
    String json =
        AnsiblePlaybook.json(
            AnsiblePlaybook.inventory(
                Layer.ansible(Path.of("site.yml"))
                    .groups("web", "db")
                    .inventoryVars(Map.of("zone", "b", "list", List.of(1, 2))),
                "c0ffee",
                "/usr/bin/python3"));
    assertThat(json)
        .isEqualTo(
            "{\"all\":{\"children\":{\"db\":{\"hosts\":{\"kiln-image\":{}}},\"web\":{\"hosts\":{\"kiln-image\":{}}}},"
                + "\"hosts\":{\"kiln-image\":{\"ansible_async_dir\":\"/run/kiln-ansible/async\","
                + "\"ansible_connection\":\"community.docker.docker\",\"ansible_host\":\"c0ffee\","
                + "\"ansible_python_interpreter\":\"/usr/bin/python3\",\"ansible_remote_tmp\":\"/run/kiln-ansible/tmp\","
                + "\"list\":[1,2],\"zone\":\"b\"}}}}");
  }

  @Test
  void callbackLinesBecomeReadableOutputAndTheFailure() {
    AnsiblePlaybook.Events events = new AnsiblePlaybook.Events("web", ctx);
    events.stdout("KILN-EVENT {\"event\": \"play\", \"name\": \"web servers\"}");
    events.stdout(
        "KILN-EVENT {\"event\": \"task\", \"name\": \"web : copy\", \"action\": \"copy\"}");
    events.stdout(
        "KILN-EVENT {\"event\": \"changed\", \"host\": \"kiln-image\", \"task\": \"web : copy\", \"action\": \"copy\"}");
    events.stdout("KILN-EVENT {\"event\": \"task\", \"name\": \"loop\", \"action\": \"command\"}");
    events.stdout(
        "KILN-EVENT {\"event\": \"failed\", \"host\": \"kiln-image\", \"task\": \"loop\", \"item\": \"b\","
            + " \"msg\": \"non-zero return code\", \"stderr\": \"boom\", \"rc\": 2, \"ignored\": false}");
    events.stdout(
        "KILN-EVENT {\"event\": \"failed\", \"host\": \"kiln-image\", \"task\": \"loop\", \"msg\": \"non-zero return code\","
            + " \"stderr\": \"boom\", \"rc\": 2, \"ignored\": false}");
    events.stdout("KILN-EVENT {\"event\": \"no_hosts\"}");
    events.plain("[WARNING]: something");
    events.stdout("not json");

    assertThat(emitted)
        .filteredOn(e -> e instanceof BakeEvent.Output)
        .extracting(e -> ((BakeEvent.Output) e).line())
        .containsExactly(
            "PLAY [web servers]",
            "TASK [web : copy]",
            "changed: [kiln-image]",
            "TASK [loop]",
            "fatal: [kiln-image] => (item=b): FAILED! task 'loop': non-zero return code: boom (rc=2)",
            "fatal: [kiln-image]: FAILED! task 'loop': non-zero return code: boom (rc=2)",
            "[WARNING]: something",
            "not json");
    assertThat(emitted).filteredOn(e -> e instanceof BakeEvent.Warning).hasSize(1);
    ProvisioningException e = events.failure(2);
    assertThat(e)
        .isInstanceOfSatisfying(
            PlaybookFailedException.class,
            f -> {
              assertThat(f.task()).isEqualTo("loop");
              assertThat(f.taskMessage()).isEqualTo("non-zero return code: boom (rc=2)");
            });
    assertThat(e.getMessage())
        .startsWith(
            "layer 'web': task 'loop' failed on kiln-image: non-zero return code: boom (rc=2) (exit code 2)");
  }

  @Test
  void anErrorBeforeAnyTaskIsAnsiblesOwnMessage() {
    AnsiblePlaybook.Events events = new AnsiblePlaybook.Events("web", ctx);
    events.plain("ERROR! the role 'nginx' was not found in /x/roles");
    events.plain("");
    events.plain("The error appears to be in '/x/site.yml': line 3, column 7");
    ProvisioningException e = events.failure(1);
    assertThat(e).isNotInstanceOf(PlaybookFailedException.class);
    assertThat(e.getMessage())
        .contains("ERROR! the role 'nginx' was not found", "line 3, column 7", "(exit code 1)");
  }
}
