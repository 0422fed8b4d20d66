package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.Layer;
import dev.kiln.PackagesLayer;
import dev.kiln.ProvisioningException;
import dev.kiln.RunLayer;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.PreparedLayer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Run and packages layers as values, their scripts and their keys; no daemon needed. */
class RunProvisionerTest {

  static KeyContext context(Path tmp) {
    FileDigests files = f -> Digest.of(Files.readAllBytes(f));
    return new KeyContext() {
      @Override
      public FileDigests files() {
        return files;
      }

      @Override
      public void emit(BakeEvent event) {}

      @Override
      public Path newTempDirectory() throws java.io.IOException {
        return Files.createTempDirectory(tmp, "ctx");
      }
    };
  }

  /** The layer's fingerprint digest, through the provisioner (a daemon is never asked for it). */
  static Digest key(Layer layer, Path tmp) throws Exception {
    DockerProvisioners docker = new DockerProvisioners();
    PreparedLayer p =
        (layer instanceof RunLayer ? docker.run() : docker.packages()).prepare(layer, context(tmp));
    Fingerprint fp = new Fingerprint();
    p.fingerprint(fp);
    assertThat(p.needsParent()).isTrue();
    return fp.digest();
  }

  @Test
  void scriptChainsCommandsInOneShell() {
    assertThat(RunProvisioner.script(List.of("cd /tmp # go there", "touch x; echo done")))
        .isEqualTo("{ cd /tmp # go there\n} && { touch x; echo done\n}");
  }

  @Test
  void keyFollowsCommandsEnvironmentInputsAndSecretNamesButNotSecretContentNetworkOrTimeout(
      @TempDir Path tmp) throws Exception {
    Path input = tmp.resolve("in");
    Files.createDirectories(input.resolve("d"));
    Files.writeString(input.resolve("d/a.conf"), "a=1");
    Path secret = tmp.resolve("secret");
    Files.writeString(secret, "one");
    RunLayer base =
        Layer.run("x", "echo hi")
            .env("A", "1")
            .env("B", "2")
            .input(input, "/mnt/in")
            .secret("s", secret);
    Digest k = key(base, tmp);

    assertThat(
            key(
                Layer.run("renamed", "echo hi")
                    .env("B", "2")
                    .env("A", "1")
                    .input(input, "/mnt/in")
                    .secret("s", secret),
                tmp))
        .as("name and env order")
        .isEqualTo(k);
    assertThat(key(base.timeout(Duration.ofSeconds(5)).network("none"), tmp)).isEqualTo(k);
    Files.writeString(secret, "two");
    assertThat(key(base, tmp)).as("secret content").isEqualTo(k);

    assertThat(
            key(
                Layer.run("x", "echo ho")
                    .env("A", "1")
                    .env("B", "2")
                    .input(input, "/mnt/in")
                    .secret("s", secret),
                tmp))
        .isNotEqualTo(k);
    assertThat(key(base.env("A", "3"), tmp)).isNotEqualTo(k);
    assertThat(key(base.user("1000"), tmp)).isNotEqualTo(k);
    assertThat(key(base.workdir("/srv"), tmp)).isNotEqualTo(k);
    assertThat(key(base.secret("t", secret), tmp)).isNotEqualTo(k);
    Files.writeString(input.resolve("d/a.conf"), "a=2");
    assertThat(key(base, tmp)).as("input content").isNotEqualTo(k);
  }

  @Test
  void missingInputOrSecretFailsWhenPrepared(@TempDir Path tmp) {
    DockerProvisioners docker = new DockerProvisioners();
    assertThatThrownBy(
            () ->
                docker
                    .run()
                    .prepare(
                        Layer.run("x", "true").input(tmp.resolve("nope"), "/in"), context(tmp)))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining("does not exist");
    assertThatThrownBy(
            () -> docker.run().prepare(Layer.run("x", "true").secret("s", tmp), context(tmp)))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining("secret 's'");
  }

  @Test
  void packagesKeyIsTheSetOfNamesAndRefreshChangesIt(@TempDir Path tmp) throws Exception {
    Digest k = key(Layer.packages("curl", "jq"), tmp);
    assertThat(key(Layer.packages("jq", "curl", "curl"), tmp)).isEqualTo(k);
    assertThat(
            key(Layer.packages("curl", "jq").network("host").timeout(Duration.ofMinutes(1)), tmp))
        .isEqualTo(k);
    assertThat(key(Layer.packages("curl"), tmp)).isNotEqualTo(k);
    PackagesLayer refreshing = Layer.packages("curl", "jq").refresh();
    assertThat(key(refreshing, tmp)).isNotEqualTo(k).isNotEqualTo(key(refreshing, tmp));
  }

  @Test
  void layersAreValidatedValues() {
    assertThatThrownBy(() -> Layer.run("x")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Layer.run("x", " ")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Layer.run("x", "true").secret("../etc", Path.of("/x")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Layer.run("x", "true").workdir("rel"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Layer.run("x", "true").network("a b"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Layer.packages("curl; rm -rf /"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Layer.packages()).isInstanceOf(IllegalArgumentException.class);
    RunLayer r = Layer.run("x", "true");
    assertThat(r.env("A", "1")).isNotEqualTo(r).isEqualTo(Layer.run("x", "true").env("A", "1"));
    assertThat(r.kind()).isEqualTo("run");
    assertThat(r.timeout()).isEqualTo(RunLayer.DEFAULT_TIMEOUT);
    assertThat(Layer.packages("b", "a").packages()).containsExactly("a", "b");
    assertThat(Layer.packages("b", "a").name()).isEqualTo("packages a b");
    assertThat(Layer.packages("a").kind()).isEqualTo("packages");
  }
}
