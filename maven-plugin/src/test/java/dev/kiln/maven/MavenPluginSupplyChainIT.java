package dev.kiln.maven;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import dev.kiln.Kiln;
import dev.kiln.SigningKey;
import dev.kiln.VerifyResult;
import dev.kiln.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample app baked by the plugin with -Dkiln.sbom, -Dkiln.provenance and -Dkiln.signingKey from
 * the command line, into an OCI layout that then verifies with the key; a missing key fails the
 * build with one line before anything is baked.
 */
class MavenPluginSupplyChainIT {
  @TempDir Path dir;

  @Test
  void supplyChainParametersFromTheCommandLine() throws Exception {
    Path repo = MavenProjects.repo();
    Path project = dir.resolve("sample");
    MavenProjects.copy(MavenProjects.sample(), project);
    String layout = "oci:" + dir.resolve("layout") + ":v1";

    Path missing = dir.resolve("nope.pem");
    Tools.Result bad =
        MavenProjects.mvn(
            project,
            repo,
            "-Dkiln.store=" + dir.resolve("store"),
            "-Dkiln.targets=" + layout,
            "-Dkiln.sbom=true",
            "-Dkiln.signingKey=" + missing,
            "package");
    assertThat(bad.exit()).as(bad.output()).isNotZero();
    List<String> errors =
        bad.output()
            .lines()
            .filter(l -> l.startsWith("[ERROR] Failed to execute goal dev.kiln:"))
            .toList();
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0)).contains("kiln: <signingKey> " + missing + ": no such file");
    assertThat(project.resolve("app/target/kiln")).doesNotExist();
    assertThat(dir.resolve("layout")).doesNotExist();

    String openssl = Tools.require("openssl", "openssl");
    Path key = dir.resolve("key.pem");
    Tools.run(
            openssl,
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            key.toString())
        .ok();
    Tools.run(
            openssl,
            "pkey",
            "-in",
            key.toString(),
            "-pubout",
            "-out",
            dir.resolve("pub.pem").toString())
        .ok();
    Tools.Result ok =
        MavenProjects.mvn(
                project,
                repo,
                "-Dkiln.store=" + dir.resolve("store"),
                "-Dkiln.sample.jre=" + MavenProjects.jre(),
                "-Dkiln.targets=" + layout,
                "-Dkiln.sbom=true",
                "-Dkiln.provenance=true",
                "-Dkiln.signingKey=" + key,
                "package")
            .ok();
    JsonNode r =
        new ObjectMapper().readTree(project.resolve("app/target/kiln/default.json").toFile());
    assertThat(r.path("attestations").findValuesAsText("kind"))
        .containsExactlyInAnyOrder("spdx", "cyclonedx", "provenance");
    for (JsonNode a : r.path("attestations")) {
      Digest d = Digest.parse(a.path("digest").asText());
      assertThat(Digest.of(Files.readAllBytes(Path.of(a.path("file").asText())))).isEqualTo(d);
      assertThat(ok.output())
          .contains("kiln: image 'default' " + a.path("kind").asText() + " " + d);
    }
    try (Kiln kiln = Kiln.builder().store(dir.resolve("verify-store")).build()) {
      VerifyResult v = kiln.verify(layout, SigningKey.publicKeyFromPem(dir.resolve("pub.pem")));
      assertThat(v.verified()).as(v.toString()).isTrue();
      assertThat(v.image().toString()).isEqualTo(r.path("digest").asText());
    }
  }
}
