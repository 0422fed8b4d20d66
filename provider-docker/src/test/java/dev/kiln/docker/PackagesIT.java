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
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Done-when 5: {@code Layer.packages("curl")} over a Debian 12 minbase root file system. */
class PackagesIT {
  private static final String IMAGE = "kiln-it/curl:1";

  /**
   * The network apt reaches the Debian mirror from: the host's. With {@code dockerd
   * --iptables=false}, as the build machines run it, the default bridge network has no NAT to the
   * outside.
   */
  static final String NETWORK = System.getProperty("kiln.test.network", "host");

  @AfterAll
  static void cleanUp() {
    DockerTesting.removeImages(IMAGE);
    DockerTesting.removeParentImages();
  }

  /** The cached Debian rootfs (scripts/docker/debian-rootfs.sh builds it once, in about 90 s). */
  static Path debianRootfs() throws Exception {
    Tools.require("mmdebstrap", "mmdebstrap");
    Path script =
        Path.of(System.getProperty("user.dir"))
            .getParent()
            .resolve("scripts/docker/debian-rootfs.sh");
    Tools.Result r = Tools.run("bash", script.toString());
    if (r.exit() != 0) {
      throw new AssertionError("could not build the Debian rootfs:\n" + r.output());
    }
    String[] lines = r.output().strip().split("\n");
    return Path.of(lines[lines.length - 1]);
  }

  @Test
  void installsCurlCleansAptAndRecordsTheVersion(@TempDir Path tmp) throws Exception {
    String docker = DockerTesting.docker();
    Path debian = debianRootfs();
    BakeResult r;
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store")).build()) {
      r =
          kiln.bake(
              ImageBuild.from(Base.rootfs(debian)).layer(Layer.packages("curl").network(NETWORK)),
              "docker-daemon:" + IMAGE);
    }
    assertThat(Tools.run(docker, "run", "--rm", IMAGE, "curl", "--version").ok().output())
        .startsWith("curl ");

    LayerRecord pkgs = r.layers().get(1);
    String version =
        Tools.run(docker, "run", "--rm", IMAGE, "dpkg-query", "-W", "-f=${Version}", "curl")
            .ok()
            .output()
            .strip();
    assertThat(pkgs.metadata())
        .containsEntry("package.curl", version)
        .containsEntry("package-manager", "apt");
    assertThat(pkgs.metadata()).containsKey("package.libcurl4");
    JsonNode record = new ObjectMapper().readTree(Files.readAllBytes(r.record()));
    assertThat(record.path("layers").get(1).path("metadata").path("package.curl").asText())
        .isEqualTo(version);

    List<String> files = new ArrayList<>();
    try (LayerReader reader =
        LayerReader.open(DockerTesting.blob(RunOptionsIT.store(r), pkgs.digest()))) {
      LayerEntry e;
      while ((e = reader.next()) != null) {
        if (e.type() != LayerEntry.Type.WHITEOUT
            && e.type() != LayerEntry.Type.OPAQUE_WHITEOUT
            && e.type() != LayerEntry.Type.DIRECTORY) {
          files.add(e.path());
        }
      }
    }
    assertThat(files).contains("usr/bin/curl");
    assertThat(files)
        .noneMatch(f -> f.startsWith("var/lib/apt/lists/"))
        .noneMatch(
            f -> f.startsWith("var/cache/apt/") && (f.endsWith(".deb") || f.endsWith(".bin")))
        .noneMatch(
            f ->
                f.startsWith("var/log/apt/")
                    || f.equals("var/log/dpkg.log")
                    || f.equals("var/cache/ldconfig/aux-cache"));
  }
}
