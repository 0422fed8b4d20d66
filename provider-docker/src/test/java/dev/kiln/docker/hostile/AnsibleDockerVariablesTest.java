package dev.kiln.docker.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Docker provisioner sets the variables that connect Ansible to its container and keep
 * Ansible's temporary files out of the layer; a definition that sets them is refused before
 * anything runs, naming the variable.
 */
class AnsibleDockerVariablesTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @ValueSource(
      strings = {
        "ansible_docker_extra_args",
        "ansible_docker_user",
        "ansible_remote_tmp",
        "ansible_async_dir"
      })
  void theDockerProvisionersOwnVariablesAreRefusedBeforeThePlayRuns(String variable)
      throws Exception {
    Path playbook = Files.writeString(tmp.resolve("site.yml"), "- hosts: all\n  tasks: []\n");
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(Layer.ansible(playbook).inventoryVars(Map.of(variable, "/elsewhere")));
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThatThrownBy(() -> kiln.bake(build, "oci:" + tmp.resolve("out")))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining("inventory variable '" + variable + "' is set by Kiln");
    }
    assertThat(tmp.resolve("out")).doesNotExist();
  }
}
