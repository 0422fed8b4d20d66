package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AnsibleLayerTest {
  private final Path playbook = Path.of("ansible/site.yml");

  @Test
  void optionsAreImmutableCopiesWithDefaults() {
    AnsibleLayer a = Layer.ansible(playbook);
    assertThat(a.kind()).isEqualTo("ansible");
    assertThat(a.name()).isEqualTo("ansible site.yml");
    assertThat(a.playbook()).isEqualTo(playbook.toAbsolutePath().normalize());
    assertThat(a.timeout()).isEqualTo(RunLayer.DEFAULT_TIMEOUT);
    assertThat(a.isCheck()).isFalse();

    AnsibleLayer b =
        a.groups("webservers", "db")
            .tags("web")
            .tags("conf")
            .skipTags("slow")
            .limit("webservers")
            .extraVars(Map.of("port", 8080))
            .extraVars(Map.of("name", "x"))
            .inventoryVars(Map.of("ansible_user", "root"))
            .roles(Path.of("shared/roles"))
            .include(Path.of("common.yml"))
            .check()
            .named("web");
    assertThat(a.groups()).isEmpty();
    assertThat(b.groups()).containsExactly("db", "webservers");
    assertThat(b.tags()).containsExactly("conf", "web");
    assertThat(b.skipTags()).containsExactly("slow");
    assertThat(b.limit()).hasValue("webservers");
    assertThat(b.extraVars()).containsExactly(Map.entry("port", 8080), Map.entry("name", "x"));
    assertThat(b.roles()).containsExactly(Path.of("shared/roles").toAbsolutePath());
    assertThat(b.includes()).containsExactly(Path.of("common.yml").toAbsolutePath());
    assertThat(b.isCheck()).isTrue();
    assertThat(b.name()).isEqualTo("web");
    assertThat(b)
        .isEqualTo(
            a.groups("db", "webservers")
                .tags("conf", "web")
                .skipTags("slow")
                .limit("webservers")
                .extraVars(Map.of("port", 8080))
                .extraVars(Map.of("name", "x"))
                .inventoryVars(Map.of("ansible_user", "root"))
                .roles(Path.of("shared/roles"))
                .include(Path.of("common.yml"))
                .check()
                .named("web"));
  }

  @Test
  void variablesAreDeepCopiesOfJsonLikeValues() {
    List<Object> list = new java.util.ArrayList<>(List.of("a"));
    AnsibleLayer a =
        Layer.ansible(playbook)
            .extraVars(Map.of("l", list, "m", Map.of("k", List.of(1, true, 2.5))));
    list.add("b");
    assertThat(a.extraVars().get("l")).isEqualTo(List.of("a"));
    assertThatThrownBy(() -> Layer.ansible(playbook).extraVars(Map.of("x", new Object())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("variable 'x'");
    assertThatThrownBy(() -> Layer.ansible(playbook).extraVars(Map.of("x", Double.NaN)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Layer.ansible(playbook).extraVars(Map.of("bad-name", 1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bad-name");
  }

  @Test
  void badInputIsRefusedEarly() {
    AnsibleLayer a = Layer.ansible(playbook);
    assertThatThrownBy(() -> a.inventoryVars(Map.of("ansible_host", "x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("set by Kiln");
    assertThatThrownBy(() -> a.inventoryVars(Map.of("ansible_connection", "ssh")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> a.groups("all")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> a.groups("web servers")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> a.tags("a,b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> a.tags("")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> a.limit(" ")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> a.network("bad network")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> a.timeout(java.time.Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void variablesOfOneProvisionerAreLeftToThatProvisioner() {
    // the Docker provisioner's connection settings are its own business, not the definition's
    AnsibleLayer a =
        Layer.ansible(playbook)
            .inventoryVars(Map.of("ansible_docker_extra_args", "-u 0", "ansible_remote_tmp", "/t"));
    assertThat(a.inventoryVars())
        .containsOnlyKeys("ansible_docker_extra_args", "ansible_remote_tmp");
  }
}
