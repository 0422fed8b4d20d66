package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Platform;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One definition (a busybox base per platform, a files layer, a run layer that writes {@code uname
 * -m}) baked for linux/amd64 and linux/arm64 on this amd64 host: the arm64 run layer runs under
 * QEMU user-mode emulation. The index goes to {@code oci-archive:} and to a real registry; skopeo
 * and umoci read it back.
 */
class MultiPlatformIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path tmp;
  static LocalRegistry registry;
  static Kiln kiln;
  static ImageBuild build;
  static BakeResult result;
  static String pushed;
  static Path archive;

  @BeforeAll
  static void bake() throws Exception {
    Tools.requireDocker();
    Tools.require("skopeo", "skopeo");
    String problem = Emulation.problem(Platform.LINUX_ARM64, Path.of("/proc/sys/fs/binfmt_misc"));
    if (problem != null) {
      Tools.missing("arm64 emulation: " + problem + " (run scripts/setup-test-env.sh)");
    }
    Path arm64 = Fixtures.arm64Busybox();
    registry = LocalRegistry.start(tmp.resolve("registry"));
    kiln = Kiln.builder().store(tmp.resolve("store")).build();
    Path app = Files.createDirectories(tmp.resolve("app"));
    Files.writeString(app.resolve("hello.txt"), "the same on every platform\n");
    build =
        ImageBuild.from(
                Base.byPlatform(
                    Map.of(
                        Platform.LINUX_AMD64,
                        Base.rootfs(Busybox.rootfs(tmp)),
                        Platform.LINUX_ARM64,
                        Base.rootfs(Busybox.rootfs(tmp, arm64, "busybox-arm64.tar")))))
            .layer(Layer.files("app").add(app, "/opt/app"))
            .layer(Layer.run("arch", "uname -m > /arch.txt"))
            .config(c -> c.cmd("/bin/cat", "/arch.txt"))
            .platforms(Platform.LINUX_AMD64, Platform.LINUX_ARM64);
    archive = tmp.resolve("multi.tar");
    pushed = registry.host() + "/kiln-it/multi:1";
    result =
        kiln.bake(build, "oci-archive:" + archive + ":v1", "docker://" + pushed + "?insecure=true");
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (kiln != null) {
      kiln.close();
    }
    if (registry != null) {
      registry.close();
    }
    DockerTesting.removeImages("kiln-it/multi:1");
    DockerTesting.removeParentImages();
  }

  @Test
  void theDaemonGetsTheImageOfItsOwnPlatform() throws Exception {
    BakeResult r = kiln.bake(build, "docker-daemon:kiln-it/multi:1");
    assertThat(r.digest()).isEqualTo(result.digest());
    String docker = Tools.requireDocker();
    String arch =
        Tools.run(docker, "image", "inspect", "-f", "{{.Architecture}}", "kiln-it/multi:1")
            .ok()
            .output()
            .strip();
    assertThat(arch).isEqualTo("amd64");
    String id =
        Tools.run(docker, "image", "inspect", "-f", "{{.Id}}", "kiln-it/multi:1")
            .ok()
            .output()
            .strip();
    assertThat(id)
        .isEqualTo(result.platforms().get(Platform.LINUX_AMD64).configDigest().toString());
    String out = Tools.run(docker, "run", "--rm", "kiln-it/multi:1").ok().output().strip();
    assertThat(out).isEqualTo("x86_64");
  }

  @Test
  void theRegistryAndTheArchiveHoldAnIndexOfBothPlatforms() throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    for (String ref : List.of("docker://" + pushed, "oci-archive:" + archive + ":v1")) {
      JsonNode index =
          JSON.readTree(
              Tools.run(skopeo, "inspect", "--tls-verify=false", "--raw", ref).ok().output());
      List<String> platforms = new ArrayList<>();
      List<String> digests = new ArrayList<>();
      for (JsonNode m : index.path("manifests")) {
        platforms.add(m.path("platform").path("architecture").asText());
        digests.add(m.path("digest").asText());
      }
      assertThat(platforms).containsExactly("amd64", "arm64");
      assertThat(digests)
          .containsExactly(
              result.platforms().get(Platform.LINUX_AMD64).digest().toString(),
              result.platforms().get(Platform.LINUX_ARM64).digest().toString());
    }
    // the files layer is one blob in both manifests
    BakeResult amd = result.platforms().get(Platform.LINUX_AMD64);
    BakeResult arm = result.platforms().get(Platform.LINUX_ARM64);
    assertThat(amd.layers().get(1).digest()).isEqualTo(arm.layers().get(1).digest());
    assertThat(amd.layers().get(2).digest()).isNotEqualTo(arm.layers().get(2).digest());
  }

  @Test
  void theArm64RunLayerRanUnderEmulation() throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    String umoci = Tools.require("umoci", "umoci");
    for (String[] arch : new String[][] {{"arm64", "aarch64"}, {"amd64", "x86_64"}}) {
      Path copy = tmp.resolve("copy-" + arch[0]);
      Tools.run(
              skopeo,
              "--override-arch",
              arch[0],
              "copy",
              "--src-tls-verify=false",
              "docker://" + pushed,
              "oci:" + copy + ":x")
          .ok();
      Path bundle = tmp.resolve("bundle-" + arch[0]);
      Tools.run(umoci, "unpack", "--rootless", "--image", copy + ":x", bundle.toString()).ok();
      assertThat(Files.readString(bundle.resolve("rootfs/arch.txt")).strip()).isEqualTo(arch[1]);
    }
  }

  @Test
  void aRebakeProvisionsNothingAndAnotherStoreGivesTheSameIndex() throws Exception {
    BakeResult again =
        kiln.bake(build, "oci-archive:" + archive + ":v1", "docker://" + pushed + "?insecure=true");
    assertThat(again.digest()).isEqualTo(result.digest());
    assertThat(again.provisioned()).isEmpty();
    assertThat(again.published().values()).allMatch(p -> p.reused());
    try (Kiln other = Kiln.builder().store(tmp.resolve("other-store")).build()) {
      assertThat(other.bake(build).digest()).isEqualTo(result.digest());
    }
  }
}
