package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
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
 * The Debian definition of the platforms page (a Debian base per platform, a files layer, a run
 * layer that writes {@code uname -m}, a packages layer installing curl) baked for linux/amd64 and
 * linux/arm64 into {@code oci-archive:} and a real registry; the arm64 packages layer runs apt
 * under emulation and records the arm64 package versions.
 */
class MultiPlatformDebianIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path tmp;
  static LocalRegistry registry;
  static Kiln kiln;
  static BakeResult result;
  static String pushed;
  static Path archive;

  /** The cached Debian minbase of {@code arch} (scripts/docker/debian-rootfs.sh [arch]). */
  static Path debian(String arch) throws Exception {
    Tools.require("mmdebstrap", "mmdebstrap");
    Path script =
        Path.of(System.getProperty("user.dir"))
            .getParent()
            .resolve("scripts/docker/debian-rootfs.sh");
    Tools.Result r =
        arch.isEmpty()
            ? Tools.run("bash", script.toString())
            : Tools.run("bash", script.toString(), arch);
    if (r.exit() != 0) {
      throw new AssertionError("could not build the Debian " + arch + " rootfs:\n" + r.output());
    }
    String[] lines = r.output().strip().split("\n");
    return Path.of(lines[lines.length - 1]);
  }

  @BeforeAll
  static void bake() throws Exception {
    Tools.requireDocker();
    String problem = Emulation.problem(Platform.LINUX_ARM64, Path.of("/proc/sys/fs/binfmt_misc"));
    if (problem != null) {
      Tools.missing("arm64 emulation: " + problem + " (run scripts/setup-test-env.sh)");
    }
    registry = LocalRegistry.start(tmp.resolve("registry"));
    kiln = Fixtures.debianStore(tmp.resolve("store")).build();
    Path app = Files.createDirectories(tmp.resolve("app"));
    Files.writeString(app.resolve("app.conf"), "listen 8080\n");
    ImageBuild build =
        ImageBuild.from(
                Base.byPlatform(
                    Map.of(
                        Platform.LINUX_AMD64, Base.rootfs(debian("")),
                        Platform.LINUX_ARM64, Base.rootfs(debian("arm64")))))
            .layer(Layer.files("app").add(app, "/etc/app"))
            .layer(Layer.run("arch", "uname -m > /etc/built-on"))
            .layer(Layer.packages("curl").network(PackagesIT.NETWORK))
            .platforms(Platform.LINUX_AMD64, Platform.LINUX_ARM64);
    archive = tmp.resolve("debian-multi.tar");
    pushed = registry.host() + "/kiln-it/debian-multi:1";
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
    DockerTesting.removeParentImages();
  }

  @Test
  void bothPlatformsAreInTheIndexAndShareTheFilesLayer() throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    for (String ref : List.of("docker://" + pushed, "oci-archive:" + archive + ":v1")) {
      JsonNode index =
          JSON.readTree(
              Tools.run(skopeo, "inspect", "--tls-verify=false", "--raw", ref).ok().output());
      List<String> platforms = new ArrayList<>();
      for (JsonNode m : index.path("manifests")) {
        platforms.add(m.path("platform").path("architecture").asText());
      }
      assertThat(platforms).containsExactly("amd64", "arm64");
    }
    BakeResult amd = result.platforms().get(Platform.LINUX_AMD64);
    BakeResult arm = result.platforms().get(Platform.LINUX_ARM64);
    assertThat(amd.layers().get(1).digest()).isEqualTo(arm.layers().get(1).digest());
  }

  @Test
  void theArm64LayersRanOnArm64() throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    String umoci = Tools.require("umoci", "umoci");
    Path copy = tmp.resolve("arm-copy");
    Tools.run(
            skopeo,
            "--override-arch",
            "arm64",
            "copy",
            "--src-tls-verify=false",
            "docker://" + pushed,
            "oci:" + copy + ":x")
        .ok();
    Path bundle = tmp.resolve("arm-bundle");
    Tools.run(umoci, "unpack", "--rootless", "--image", copy + ":x", bundle.toString()).ok();
    assertThat(Files.readString(bundle.resolve("rootfs/etc/built-on")).strip())
        .isEqualTo("aarch64");
    String status = Files.readString(bundle.resolve("rootfs/var/lib/dpkg/status"));
    assertThat(status).contains("Package: curl\n");
    assertThat(status).contains("Architecture: arm64");
    LayerRecord pkgs = result.platforms().get(Platform.LINUX_ARM64).layers().get(3);
    assertThat(pkgs.metadata()).containsKey("package.curl");
  }
}
