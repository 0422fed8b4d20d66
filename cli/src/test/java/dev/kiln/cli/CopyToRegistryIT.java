package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln copy to a registry (Debian's docker-registry on 127.0.0.1): the manifest digest the registry
 * serves for a copied image is the one it serves for the same definition baked straight to it.
 */
class CopyToRegistryIT {
  @TempDir static Path shared;
  static Process registry;
  static String host;
  static Path definition;

  @BeforeAll
  static void setUp() throws Exception {
    Tools.require("skopeo", "skopeo");
    String binary = Tools.require("docker-registry", "docker-registry");
    Path rootfs = Busybox.rootfs(shared);
    definition = shared.resolve("project/Images.java");
    Files.createDirectories(definition.getParent());
    Files.writeString(
        definition,
        """
        import dev.kiln.*;
        import java.nio.file.Path;

        public class Images implements ImageDefinition {
          public ImageBuild define(DefinitionContext ctx) {
            return ImageBuild.from(Base.rootfs(Path.of("%s")))
                .layer(Layer.files("app").content("/app/version", "1".getBytes(), 0644))
                .config(c -> c.cmd("/bin/cat", "/app/version"));
          }
        }
        """
            .formatted(rootfs));
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    host = "127.0.0.1:" + port;
    Path dir = Files.createDirectories(shared.resolve("registry"));
    Path config = dir.resolve("config.yml");
    Files.writeString(
        config,
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
            + "storage:\n  filesystem:\n    rootdirectory: "
            + dir.resolve("data")
            + "\n"
            + "http:\n  addr: "
            + host
            + "\n");
    registry =
        new ProcessBuilder(binary, "serve", config.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("registry.log").toFile())
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try {
        HttpURLConnection c =
            (HttpURLConnection) URI.create("http://" + host + "/v2/").toURL().openConnection();
        c.setConnectTimeout(500);
        if (c.getResponseCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not up yet
      }
      if (!registry.isAlive() || System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "docker-registry did not start: " + Files.readString(dir.resolve("registry.log")));
      }
      Thread.sleep(100);
    }
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (registry != null) {
      registry.destroy();
      if (!registry.waitFor(10, TimeUnit.SECONDS)) {
        registry.destroyForcibly();
      }
    }
  }

  /** The manifest digest the registry serves for {@code ref}, as skopeo reads it. */
  static String served(String ref) throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    String json =
        Tools.run(skopeo, "inspect", "--tls-verify=false", "--raw", "docker://" + ref)
            .ok()
            .output();
    String digest =
        Tools.run(
                skopeo,
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                "docker://" + ref)
            .ok()
            .output()
            .strip();
    assertThat(new ObjectMapper().readTree(json).path("layers")).hasSize(2);
    return digest;
  }

  @Test
  void aCopiedImageHasTheDigestOfABakeToTheRegistry() throws Exception {
    CliRun baked =
        CliRun.kiln(
            "run",
            definition.toString(),
            "-t",
            "docker://" + host + "/kiln/baked:1",
            "--store",
            shared.resolve("baking-store").toString());
    assertThat(baked.code()).as(baked.toString()).isZero();

    String store = shared.resolve("pipeline-store").toString();
    CliRun stored = CliRun.kiln("run", definition.toString(), "--store", store);
    assertThat(stored.code()).as(stored.toString()).isZero();
    CliRun copied =
        CliRun.kiln(
            "copy",
            stored.out().strip(),
            "docker://" + host + "/kiln/promoted:1",
            "--store",
            store);
    assertThat(copied.code()).as(copied.toString()).isZero();

    assertThat(copied.out().strip()).isEqualTo(baked.out().strip());
    assertThat(served(host + "/kiln/promoted:1")).isEqualTo(baked.out().strip());
    assertThat(served(host + "/kiln/baked:1")).isEqualTo(baked.out().strip());
    // the publication is recorded: the target now names the image
    CliRun inspect =
        CliRun.kiln("inspect", "docker://" + host + "/kiln/promoted:1", "--store", store);
    assertThat(inspect.outLines().get(0)).isEqualTo("image     " + baked.out().strip());
  }

  @Test
  void anImageOfAnotherLayoutIsCopiedWithItsDigest() throws Exception {
    Path layout = shared.resolve("layout");
    CliRun baked =
        CliRun.kiln(
            "run",
            definition.toString(),
            "-t",
            "oci:" + layout + ":release",
            "--store",
            shared.resolve("layout-store").toString());
    assertThat(baked.code()).as(baked.toString()).isZero();
    CliRun copied =
        CliRun.kiln(
            "copy",
            "oci:" + layout + ":release",
            "docker://" + host + "/kiln/from-layout:1",
            "--store",
            shared.resolve("other-store").toString());
    assertThat(copied.code()).as(copied.toString()).isZero();
    assertThat(copied.out().strip()).isEqualTo(baked.out().strip());
    assertThat(served(host + "/kiln/from-layout:1")).isEqualTo(baked.out().strip());
  }
}
