package dev.kiln.maven;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testing.Fixtures;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs outside Maven projects against a private local repository (target/it-repo): the build
 * installs this plugin and the Kiln jars there (maven-invoker-plugin's install goal), and the rest
 * is linked from the build's own local repository, so the outside build runs offline and nothing is
 * ever installed into the shared one.
 */
final class MavenProjects {
  private MavenProjects() {}

  static Path repo() throws IOException {
    String repo = System.getProperty("kiln.it.repo");
    if (repo == null) {
      Tools.missing(
          "kiln.it.repo is not set: run this test through failsafe (mvn -pl maven-plugin -am verify)");
    }
    Path r = Path.of(repo);
    if (!Files.isDirectory(r.resolve("dev/kiln/kiln-maven-plugin"))) {
      Tools.missing(
          "kiln-maven-plugin is not installed in "
              + r
              + ": run through failsafe, after pre-integration-test");
    }
    String seed = System.getProperty("kiln.it.seed");
    if (seed != null && Files.isDirectory(Path.of(seed))) {
      seed(Path.of(seed), r);
    }
    return r;
  }

  /**
   * Links the seed repository's jars and poms into {@code repo} and copies its small metadata files
   * (which Maven may rewrite in place), leaving Kiln's own artifacts and anything already there
   * alone.
   */
  private static void seed(Path from, Path repo) throws IOException {
    Path kiln = from.resolve("dev/kiln");
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.walk(from)) {
      s.filter(p -> !p.startsWith(kiln) && Files.isRegularFile(p)).forEach(files::add);
    }
    for (Path f : files) {
      Path to = repo.resolve(from.relativize(f).toString());
      if (Files.exists(to)) {
        continue;
      }
      Files.createDirectories(to.getParent());
      String n = f.getFileName().toString();
      try {
        if (n.endsWith(".jar") || n.endsWith(".pom")) {
          try {
            Files.createLink(to, f);
          } catch (IOException | UnsupportedOperationException e) {
            Files.copy(f, to);
          }
        } else {
          Files.copy(f, to, StandardCopyOption.COPY_ATTRIBUTES);
        }
      } catch (FileAlreadyExistsException e) {
        // another test seeded it first
      }
    }
  }

  /** Copies a project tree (without its target directories) to {@code to}. */
  static void copy(Path from, Path to) throws IOException {
    List<Path> all;
    try (Stream<Path> s = Files.walk(from)) {
      all = s.filter(p -> !from.relativize(p).toString().contains("target")).toList();
    }
    for (Path p : all) {
      Path t = to.resolve(from.relativize(p).toString());
      if (Files.isDirectory(p)) {
        Files.createDirectories(t);
      } else {
        Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  /** The sample project of examples/maven-sample. */
  static Path sample() {
    return Fixtures.repoRoot().resolve("examples/maven-sample");
  }

  /** The JRE root file system the sample runs on, built once by scripts/docker/jre-rootfs.sh. */
  static Path jre() throws IOException, InterruptedException {
    Tools.require("jlink", "openjdk-17-jdk-headless");
    Tools.require("busybox", "busybox-static");
    Path script = Fixtures.repoRoot().resolve("scripts/docker/jre-rootfs.sh");
    Process p =
        new ProcessBuilder("bash", script.toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertThat(p.waitFor()).as("jre-rootfs.sh exit code").isZero();
    return Path.of(out.lines().reduce((a, b) -> b).orElseThrow());
  }

  /** Runs {@code mvn -B -o} on the project's pom with the private repository and {@code args}. */
  static Tools.Result mvn(Path project, Path repo, String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Tools.require("mvn", "maven"),
                "-B",
                "-o",
                "-f",
                project.resolve("pom.xml").toString(),
                "-Dmaven.repo.local=" + repo,
                "-Dkiln.version=" + System.getProperty("kiln.it.version", "0.1.0-SNAPSHOT")));
    cmd.addAll(List.of(args));
    return Tools.run(cmd);
  }
}
