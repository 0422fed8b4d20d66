package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Kiln;
import dev.kiln.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution a user unpacks: bin/kiln runs with the jars of lib/ alone, from any working
 * directory.
 */
class DistributionIT {
  @TempDir Path dir;

  @Test
  void theUnpackedLauncherBakesWhatTheLibraryBakes() throws Exception {
    Path tarball = Path.of(System.getProperty("kiln.dist", "target/kiln-dist.tar.gz"));
    assertThat(tarball).as("the distribution is built by mvn package").isRegularFile();
    Tools.run("tar", "-xzf", tarball.toAbsolutePath().toString(), "-C", dir.toString()).ok();
    Path home;
    try (var s = Files.list(dir)) {
      home = s.filter(Files::isDirectory).findFirst().orElseThrow();
    }
    Path kiln = home.resolve("bin/kiln");
    assertThat(Files.isExecutable(kiln)).isTrue();
    try (var s = Files.list(home.resolve("lib"))) {
      assertThat(s.map(p -> p.getFileName().toString()).toList())
          .anyMatch(n -> n.startsWith("kiln-cli-"))
          .anyMatch(n -> n.startsWith("picocli-"))
          .anyMatch(n -> n.startsWith("kiln-provider-docker-"))
          .anyMatch(n -> n.startsWith("kiln-sbom-"));
    }

    Path project = Files.createDirectories(dir.resolve("work"));
    Files.writeString(project.resolve("Images.java"), RunCommandTest.IMAGES);
    Files.writeString(project.resolve("motd"), "welcome\n");
    Path store = dir.resolve("store");
    ProcessBuilder pb =
        new ProcessBuilder(
                List.of(
                    kiln.toString(),
                    "run",
                    "Images.java",
                    "-P",
                    "greeting=hi",
                    "--store",
                    store.toString()))
            .directory(project.toFile());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Process p = pb.redirectErrorStream(false).start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    String err = new String(p.getErrorStream().readAllBytes());
    assertThat(p.waitFor()).as(out + err).isZero();
    assertThat(err).as("no terminal: quiet").isEmpty();

    BakeResult lib;
    try (Kiln k = Kiln.builder().store(dir.resolve("library-store")).build()) {
      lib = k.bake(RunCommandTest.library(project, "hi"));
    }
    assertThat(out).isEqualTo(lib.digest().toString());

    ProcessBuilder remote =
        new ProcessBuilder(kiln.toString(), "run", "Images.java", "--store", store.toString())
            .directory(project.toFile());
    remote.environment().put("KILN_REMOTE_CACHE", "nosuch://cache");
    Process withRemote = remote.start();
    String remoteErr = new String(withRemote.getErrorStream().readAllBytes());
    assertThat(withRemote.waitFor()).as(remoteErr).isEqualTo(Exit.USAGE);
    assertThat(remoteErr.lines().toList())
        .hasSize(1)
        .allMatch(l -> l.startsWith("kiln: $KILN_REMOTE_CACHE: ") && l.contains("nosuch"));

    Process bad =
        new ProcessBuilder(kiln.toString(), "images", "--store", dir.resolve("none").toString())
            .directory(project.toFile())
            .start();
    String badErr = new String(bad.getErrorStream().readAllBytes());
    assertThat(bad.waitFor()).isEqualTo(Exit.NOT_FOUND);
    assertThat(badErr.lines().toList())
        .hasSize(1)
        .allMatch(l -> l.startsWith("kiln: no Kiln store at "));

    // the SBOM writer is in lib/: --sbom --provenance writes the three documents
    Process sbom =
        new ProcessBuilder(
                kiln.toString(),
                "run",
                "Images.java",
                "-P",
                "greeting=hi",
                "--sbom",
                "--provenance",
                "--store",
                store.toString())
            .directory(project.toFile())
            .start();
    List<String> sbomOut = new String(sbom.getInputStream().readAllBytes()).lines().toList();
    String sbomErr = new String(sbom.getErrorStream().readAllBytes());
    assertThat(sbom.waitFor()).as(sbomErr).isZero();
    assertThat(sbomOut.get(0)).isEqualTo(out);
    assertThat(sbomOut.subList(1, sbomOut.size()))
        .extracting(l -> l.strip().split(" ")[0])
        .containsExactlyInAnyOrder("spdx", "cyclonedx", "provenance");
  }
}
