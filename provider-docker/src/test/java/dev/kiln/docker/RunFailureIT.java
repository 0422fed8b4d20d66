package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeException;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.testing.Busybox;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Done-when 3: failing commands, hung commands and a missing daemon; nothing is left behind. */
class RunFailureIT {

  @Test
  void failingCommandReportsExitCodeAndOutputTailAndLeavesNothing(@TempDir Path tmp)
      throws Exception {
    DockerTesting.docker();
    Path rootfs = Busybox.rootfs(tmp);
    DockerState before = DockerState.now();
    Set<String> tmpBefore = kilnTempFiles();
    List<String> script = new ArrayList<>();
    script.add("echo starting");
    script.add("for i in $(seq 1 30); do echo line $i; done");
    script.add("echo about to fail >&2; exit 3");
    script.add("echo never");
    ImageBuild build =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(Layer.run("broken", script.toArray(String[]::new)));
    Path store = tmp.resolve("store");
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      assertThatThrownBy(() -> kiln.bake(build, "docker-daemon:kiln-it/broken:1"))
          .isInstanceOfSatisfying(
              ProvisioningException.class,
              e -> {
                assertThat(e.layer()).isEqualTo("broken");
                assertThat(e.exitCode()).hasValue(3);
                assertThat(e.outputTail())
                    .hasSizeLessThanOrEqualTo(20)
                    .contains("line 30", "about to fail")
                    .doesNotContain("never", "line 1");
                assertThat(e.getMessage()).contains("exit code 3").contains("about to fail");
              });
    }
    assertThat(DockerState.now()).isEqualTo(before);
    assertThat(kilnTempFiles()).isEqualTo(tmpBefore);
    try (Stream<Path> s = Files.walk(store.resolve("tmp"))) {
      assertThat(s.filter(Files::isRegularFile).toList()).isEmpty();
    }
  }

  @Test
  void hungCommandIsStoppedAtTheTimeout(@TempDir Path tmp) throws Exception {
    DockerTesting.docker();
    DockerState before = DockerState.now();
    ImageBuild build =
        ImageBuild.from(Base.rootfs(Busybox.rootfs(tmp)))
            .layer(Layer.run("hangs", "echo waiting", "sleep 600").timeout(Duration.ofSeconds(2)));
    long t0 = System.nanoTime();
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThatThrownBy(() -> kiln.bake(build))
          .isInstanceOfSatisfying(
              ProvisioningException.class,
              e -> {
                assertThat(e.getMessage()).contains("did not finish within 2 s");
                assertThat(e.outputTail()).contains("waiting");
              });
    }
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(30));
    assertThat(DockerState.now()).isEqualTo(before);
  }

  @Test
  void missingDaemonNamesDockerHost(@TempDir Path tmp) throws Exception {
    Path rootfs = Busybox.rootfs(tmp);
    String dead = "unix://" + tmp.resolve("no-daemon.sock");
    for (List<String> extra : List.of(List.<String>of(), List.of("docker-daemon:kiln-it/dead:1"))) {
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-cp",
                  System.getProperty("java.class.path"),
                  DeadDaemonMain.class.getName(),
                  tmp.resolve("store").toString(),
                  rootfs.toString()));
      cmd.addAll(extra);
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("DOCKER_HOST", dead);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(out).isEqualTo(2);
      assertThat(out)
          .contains("FAILED")
          .contains("cannot reach the Docker daemon at " + dead)
          .contains("DOCKER_HOST=" + dead);
    }
  }

  @Test
  void missingSecretFailsBeforeAnythingRuns(@TempDir Path tmp) throws Exception {
    ImageBuild build =
        ImageBuild.from(Base.rootfs(Busybox.rootfs(tmp)))
            .layer(Layer.run("s", "true").secret("token", tmp.resolve("absent")));
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThatThrownBy(() -> kiln.bake(build))
          .isInstanceOf(BakeException.class)
          .hasMessageContaining("secret 'token'")
          .hasMessageContaining("absent");
    }
  }

  private static Set<String> kilnTempFiles() throws IOException {
    try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return new TreeSet<>(
          s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("kiln")).toList());
    }
  }
}
