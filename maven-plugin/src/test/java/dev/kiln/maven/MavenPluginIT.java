package dev.kiln.maven;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample app of examples/maven-sample, copied to a temporary directory as an outside project,
 * baked by the plugin bound to {@code package}: into an OCI archive and the Docker daemon, then
 * again with no change (nothing is provisioned), then with one class changed (only the classes
 * layer is).
 */
class MavenPluginIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  private final String image =
      "kiln-mvn-it-" + UUID.randomUUID().toString().substring(0, 8) + "/app:1";

  @AfterEach
  void removeImage() {
    Tools.run("/usr/bin/docker", "rmi", "-f", image);
  }

  @Test
  void bakesTheAppBoundToPackageThenNothingThenOnlyTheClasses() throws Exception {
    String docker = Tools.requireDocker();
    Path repo = MavenProjects.repo();
    Path jre = MavenProjects.jre();
    Path project = dir.resolve("sample");
    MavenProjects.copy(MavenProjects.sample(), project);
    String[] args = {
      "-Dkiln.store=" + dir.resolve("store"),
      "-Dkiln.sample.jre=" + jre,
      "-Dkiln.sample.image=" + image,
      "package"
    };

    Tools.Result first = MavenProjects.mvn(project, repo, args).ok();
    JsonNode r1 = result(project);
    assertThat(names(r1.get("layers")))
        .containsExactly("rootfs", "dependencies", "snapshot-dependencies", "resources", "classes");
    assertThat(names(r1.get("provisioned")))
        .contains("dependencies", "snapshot-dependencies", "resources", "classes");
    String digest = r1.get("digest").asText();
    assertThat(Files.readString(project.resolve("app/target/kiln/default.digest")).strip())
        .isEqualTo(digest);
    assertThat(project.resolve("app/target/kiln/default.record.json")).isRegularFile();
    assertThat(project.resolve("app/target/app-image.tar")).isRegularFile();
    assertThat(first.output()).contains("kiln: image 'default' " + digest);
    assertThat(Tools.run(docker, "run", "--rm", image).ok().output().strip())
        .isEqualTo("Hello, Kiln (baked by kiln-maven-plugin)");
    // the OCI archive holds the same image
    String skopeo = Tools.require("skopeo", "skopeo");
    assertThat(
            Tools.run(
                    skopeo,
                    "inspect",
                    "--raw",
                    "oci-archive:" + project.resolve("app/target/app-image.tar"))
                .ok()
                .output())
        .contains(r1.get("config").asText());

    // a second package with no change provisions nothing and gives the same image
    Tools.Result second = MavenProjects.mvn(project, repo, args).ok();
    JsonNode r2 = result(project);
    assertThat(names(r2.get("provisioned"))).isEmpty();
    assertThat(r2.get("digest").asText()).isEqualTo(digest);
    assertThat(second.output()).contains("nothing provisioned");

    // one changed class re-provisions the classes layer only
    Path main = project.resolve("app/src/main/java/sample/app/Main.java");
    Files.writeString(main, Files.readString(main).replace("\"{} ({})\"", "\"{} [{}]\""));
    MavenProjects.mvn(project, repo, args).ok();
    JsonNode r3 = result(project);
    assertThat(names(r3.get("provisioned"))).containsExactly("classes");
    assertThat(r3.get("digest").asText()).isNotEqualTo(digest);
    for (int i = 0; i < 4; i++) {
      assertThat(r3.get("layers").get(i).get("diffId"))
          .isEqualTo(r1.get("layers").get(i).get("diffId"));
    }
    assertThat(Tools.run(docker, "run", "--rm", image).ok().output().strip())
        .isEqualTo("Hello, Kiln [baked by kiln-maven-plugin]");
  }

  @Test
  void badInputFailsTheBuildWithOneLine() throws Exception {
    Path repo = MavenProjects.repo();
    Path project = dir.resolve("sample");
    MavenProjects.copy(MavenProjects.sample(), project);
    Tools.Result r =
        MavenProjects.mvn(
            project,
            repo,
            "-Dkiln.store=" + dir.resolve("store"),
            "-Dkiln.definition=sample.app.Missing",
            "package");
    assertThat(r.exit()).isNotZero();
    List<String> errors =
        r.output()
            .lines()
            .filter(l -> l.startsWith("[ERROR] Failed to execute goal dev.kiln:"))
            .toList();
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0))
        .contains(
            "on project app: kiln: image definition sample.app.Missing not found on the "
                + "project's class path");
    assertThat(project.resolve("app/target/kiln")).doesNotExist();
    // a definition that throws, an unknown target and a store that cannot be opened:
    // PluginBadInputTest
  }

  private static JsonNode result(Path project) throws Exception {
    return JSON.readTree(project.resolve("app/target/kiln/default.json").toFile());
  }

  private static List<String> names(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.isTextual() ? n.asText() : n.get("name").asText()));
    return out;
  }
}
