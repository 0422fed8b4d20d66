package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
 * One build baked for linux/amd64 and linux/arm64: an OCI image index in {@code oci:} and {@code
 * oci-archive:}, read by skopeo and umoci; the files layer shared; platforms chosen from an index
 * base; targets and bases that cannot serve several platforms refused before anything is written.
 */
class MultiPlatformIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path tmp;
  static Kiln kiln;
  static ImageBuild build;
  static BakeResult result;
  static Path layout;
  static Path archive;

  @BeforeAll
  static void bake() throws Exception {
    kiln = Kiln.builder().store(tmp.resolve("store")).build();
    Path app = Files.createDirectories(tmp.resolve("src/app"));
    Files.writeString(app.resolve("hello.txt"), "hello from every platform\n");
    Path amd = Files.createDirectories(tmp.resolve("rootfs-amd64/etc"));
    Files.writeString(amd.resolve("arch"), "x86_64\n");
    Path arm = Files.createDirectories(tmp.resolve("rootfs-arm64/etc"));
    Files.writeString(arm.resolve("arch"), "aarch64\n");
    build =
        ImageBuild.from(
                Base.byPlatform(
                    Map.of(
                        Platform.LINUX_AMD64, Base.rootfs(amd.getParent()),
                        Platform.LINUX_ARM64, Base.rootfs(arm.getParent()))))
            .layer(Layer.files("app").add(app, "/opt/app"))
            .config(c -> c.cmd("/bin/true"))
            .platforms(Platform.LINUX_AMD64, Platform.LINUX_ARM64);
    layout = tmp.resolve("layout");
    archive = tmp.resolve("image.tar");
    result = kiln.bake(build, "oci:" + layout + ":v1", "oci-archive:" + archive + ":v1");
  }

  @AfterAll
  static void close() throws Exception {
    kiln.close();
  }

  @Test
  void theResultIsAnIndexOfBothPlatforms() {
    assertThat(result.isIndex()).isTrue();
    assertThat(result.platforms().keySet())
        .containsExactly(Platform.LINUX_AMD64, Platform.LINUX_ARM64);
    BakeResult amd = result.platforms().get(Platform.LINUX_AMD64);
    BakeResult arm = result.platforms().get(Platform.LINUX_ARM64);
    assertThat(amd.digest()).isNotEqualTo(arm.digest());
    // the files layer is one layer for both: same key, same blob
    assertThat(amd.layers().get(1).digest()).isEqualTo(arm.layers().get(1).digest());
    assertThat(amd.layers().get(0).digest()).isNotEqualTo(arm.layers().get(0).digest());
  }

  @Test
  void skopeoReadsTheIndexFromTheLayoutAndTheArchive() throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    for (String ref : new String[] {"oci:" + layout + ":v1", "oci-archive:" + archive + ":v1"}) {
      JsonNode index = JSON.readTree(Tools.run(skopeo, "inspect", "--raw", ref).ok().output());
      assertThat(index.path("mediaType").asText())
          .isEqualTo("application/vnd.oci.image.index.v1+json");
      List<String> platforms = new ArrayList<>();
      for (JsonNode m : index.path("manifests")) {
        platforms.add(
            m.path("platform").path("os").asText()
                + "/"
                + m.path("platform").path("architecture").asText());
      }
      assertThat(platforms).containsExactly("linux/amd64", "linux/arm64");
      for (String arch : new String[] {"amd64", "arm64"}) {
        JsonNode config =
            JSON.readTree(
                Tools.run(skopeo, "--override-arch", arch, "inspect", "--config", ref)
                    .ok()
                    .output());
        assertThat(config.path("architecture").asText()).isEqualTo(arch);
      }
      // each platform's manifest is the one the bake assembled; skopeo names the index's digest
      for (JsonNode m : index.path("manifests")) {
        Platform p = Platform.parse("linux/" + m.path("platform").path("architecture").asText());
        assertThat(m.path("digest").asText())
            .isEqualTo(result.platforms().get(p).digest().toString());
      }
      assertThat(
              JSON.readTree(Tools.run(skopeo, "inspect", ref).ok().output())
                  .path("Digest")
                  .asText())
          .isEqualTo(result.digest().toString());
    }
  }

  @Test
  void umociUnpacksTheArm64Image() throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    String umoci = Tools.require("umoci", "umoci");
    Path copy = tmp.resolve("arm-copy");
    Tools.run(
            skopeo,
            "--override-arch",
            "arm64",
            "copy",
            "oci-archive:" + archive + ":v1",
            "oci:" + copy + ":arm")
        .ok();
    Path bundle = tmp.resolve("arm-bundle");
    Tools.run(umoci, "unpack", "--rootless", "--image", copy + ":arm", bundle.toString()).ok();
    assertThat(Files.readString(bundle.resolve("rootfs/etc/arch"))).isEqualTo("aarch64\n");
    assertThat(Files.readString(bundle.resolve("rootfs/opt/app/hello.txt")))
        .isEqualTo("hello from every platform\n");
  }

  @Test
  void aRebakeProvisionsNothingAndGivesTheSameIndex() throws Exception {
    BakeResult again = kiln.bake(build, "oci:" + layout + ":v1", "oci-archive:" + archive + ":v1");
    assertThat(again.digest()).isEqualTo(result.digest());
    assertThat(again.provisioned()).isEmpty();
    assertThat(again.published().values()).allMatch(PublishedImage::reused);
    try (Kiln other = Kiln.builder().store(tmp.resolve("other-store")).build()) {
      assertThat(other.bake(build).digest()).isEqualTo(result.digest());
    }
  }

  @Test
  void aSinglePlatformTargetIsRefusedBeforeAnythingIsWritten() {
    Path docker = tmp.resolve("refused/docker.tar");
    Path oci = tmp.resolve("refused/layout");
    assertThatThrownBy(
            () -> kiln.bake(build, "oci:" + oci + ":v1", "docker-archive:" + docker + ":app:1"))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("docker-archive:" + docker)
        .hasMessageContaining("linux/amd64, linux/arm64");
    assertThat(oci).doesNotExist();
    assertThat(docker).doesNotExist();
  }

  @Test
  void anArm64DiskNeedsAnArm64Kernel() throws Exception {
    dev.kiln.testing.Fixtures.arm64GrubModules();
    Path img = tmp.resolve("refused/arm.img");
    assertThatThrownBy(() -> kiln.bake(build.platforms(Platform.LINUX_ARM64), "raw:" + img))
        .isInstanceOf(BakeException.class)
        .hasMessageContaining("no kernel found in the image")
        .hasMessageContaining("linux-image-cloud-arm64");
    assertThat(img).doesNotExist();
  }

  @Test
  void aFilesOnlyImageHasADiskPerPlatform() throws Exception {
    dev.kiln.testing.Fixtures.arm64GrubModules();
    // no base: the layer keys are the same on both platforms, the disks are not
    ImageBuild files =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("motd").content("/etc/motd", "hello\n".getBytes(), 0644));
    Path arm = tmp.resolve("disks/arm.img");
    Path amd = tmp.resolve("disks/amd.img");
    BakeResult a =
        kiln.bake(files.platforms(Platform.LINUX_ARM64), "raw:" + arm + "?disk.dataOnly=true");
    BakeResult x =
        kiln.bake(files.platforms(Platform.LINUX_AMD64), "raw:" + amd + "?disk.dataOnly=true");
    assertThat(a.key()).isEqualTo(x.key());
    String sgdisk = Tools.require("sgdisk", "gdisk");
    assertThat(Tools.run(sgdisk, "-i", "2", arm.toString()).ok().output())
        .containsIgnoringCase("B921B045-1DF0-41C3-AF44-4C6F280D3FAE");
    assertThat(Tools.run(sgdisk, "-i", "2", amd.toString()).ok().output())
        .containsIgnoringCase("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709");
    assertThat(a.published().values().iterator().next().details().get("diskSha256"))
        .isNotEqualTo(x.published().values().iterator().next().details().get("diskSha256"));
  }

  @Test
  void aPlatformWithoutABaseIsAClearError() {
    ImageBuild s390 = build.platforms("linux/amd64", "linux/s390x");
    assertThatThrownBy(() -> kiln.bake(s390))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining("no base for linux/s390x");
  }

  @Test
  void anIndexBaseGivesEachPlatformItsImage() throws Exception {
    ImageBuild onIndex =
        ImageBuild.from(Base.oci(layout, "v1"))
            .layer(Layer.files("top").content("/top.txt", "top\n".getBytes(), 0644));
    BakeResult arm = kiln.bake(onIndex.platforms(Platform.LINUX_ARM64));
    assertThat(arm.isIndex()).isFalse();
    assertThat(arm.layers().get(0).digest())
        .isEqualTo(result.platforms().get(Platform.LINUX_ARM64).layers().get(0).digest());
    BakeResult both = kiln.bake(onIndex.platforms(Platform.LINUX_AMD64, Platform.LINUX_ARM64));
    assertThat(both.platforms().get(Platform.LINUX_AMD64).layers().get(0).digest())
        .isEqualTo(result.platforms().get(Platform.LINUX_AMD64).layers().get(0).digest());
    assertThatThrownBy(() -> kiln.bake(onIndex.platforms("linux/riscv64")))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining("has no linux/riscv64 image")
        .hasMessageContaining("linux/amd64, linux/arm64");
  }

  @Test
  void platformsParseAndMatch() {
    assertThat(Platform.parse("linux/aarch64")).isEqualTo(Platform.LINUX_ARM64);
    assertThat(Platform.parse("Linux/x86_64")).isEqualTo(Platform.LINUX_AMD64);
    assertThat(Platform.parse("linux/arm/v7").variant()).isEqualTo("v7");
    assertThat(Platform.LINUX_ARM64.accepts(Platform.parse("linux/arm64/v8"))).isTrue();
    assertThat(Platform.parse("linux/arm64/v8").accepts(Platform.LINUX_ARM64)).isFalse();
    assertThatThrownBy(() -> Platform.parse("arm64"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected OS/ARCH");
    assertThatThrownBy(() -> build.platforms(Platform.LINUX_ARM64, Platform.LINUX_ARM64))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
