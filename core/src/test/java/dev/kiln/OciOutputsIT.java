package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Tools;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Kiln's outputs read by the real tools: skopeo, umoci, docker load + docker run. */
class OciOutputsIT {
  @TempDir static Path tmp;
  static Kiln kiln;
  static ImageBuild build;
  static BakeResult oci;
  static Path layout;
  static Path archive;

  @BeforeAll
  static void bake() throws Exception {
    kiln = Kiln.builder().store(tmp.resolve("store")).build();
    Path app = Files.createDirectories(tmp.resolve("src/app"));
    Files.writeString(app.resolve("hello.txt"), "hello from kiln\n");
    Files.writeString(app.resolve("run.sh"), "#!/bin/sh\ncat /opt/app/hello.txt\n");
    Files.createDirectories(app.resolve("sub"));
    Files.writeString(app.resolve("sub/data.bin"), "data");
    Files.createSymbolicLink(app.resolve("link"), Path.of("hello.txt"));
    build =
        ImageBuild.from(Base.rootfs(Busybox.rootfs(tmp)))
            .layer(
                Layer.files("app")
                    .add(app, "/opt/app")
                    .add(app.resolve("run.sh"), "/usr/local/bin/hello", 0755)
                    .owner(1000, 1000)
                    .content("/home/app/owned.txt", "mine\n".getBytes(), 0600)
                    .directory("/var/lib/app", 0750)
                    .symlink("/usr/local/bin/hi", "/usr/local/bin/hello"))
            .config(
                c ->
                    c.cmd("/usr/local/bin/hello")
                        .env("GREETING", "hi")
                        .label("org.example.team", "platform"));
    layout = tmp.resolve("layout");
    archive = tmp.resolve("image.tar");
    oci = kiln.bake(build, "oci:" + layout + ":v1", "oci-archive:" + archive + ":v1");
  }

  @AfterAll
  static void close() throws Exception {
    kiln.close();
  }

  @Test
  void skopeoReadsTheLayoutAndTheArchive() throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    for (String ref : new String[] {"oci:" + layout + ":v1", "oci-archive:" + archive + ":v1"}) {
      String out = Tools.run(skopeo, "inspect", ref).ok().output();
      JsonNode n = new ObjectMapper().readTree(out);
      assertThat(n.path("Digest").asText()).isEqualTo(oci.digest().toString());
      assertThat(n.path("Layers")).hasSize(2);
      assertThat(n.path("Layers").get(1).asText())
          .isEqualTo(oci.layers().get(1).digest().toString());
      assertThat(n.path("Env").toString()).contains("GREETING=hi");
      assertThat(n.path("Labels").path("org.example.team").asText()).isEqualTo("platform");
      String config = Tools.run(skopeo, "inspect", "--config", ref).ok().output();
      assertThat(new ObjectMapper().readTree(config).path("rootfs").path("diff_ids").toString())
          .contains(
              oci.layers().get(0).diffId().toString(), oci.layers().get(1).diffId().toString());
    }
    // the local store itself is an OCI layout too
    String out =
        Tools.run(skopeo, "inspect", "oci:" + tmp.resolve("store") + ":" + oci.digest().hex())
            .ok()
            .output();
    assertThat(out).contains(oci.digest().toString());
  }

  @Test
  void umociUnpacksFilesModesSymlinksAndOwnership() throws Exception {
    String umoci = Tools.require("umoci", "umoci");
    Path bundle = tmp.resolve("bundle-" + UUID.randomUUID());
    Tools.run(umoci, "unpack", "--rootless", "--image", layout + ":v1", bundle.toString()).ok();
    Path rootfs = bundle.resolve("rootfs");
    assertThat(rootfs.resolve("opt/app/hello.txt")).hasContent("hello from kiln");
    assertThat(mode(rootfs.resolve("opt/app/hello.txt"))).isEqualTo(0644);
    assertThat(mode(rootfs.resolve("usr/local/bin/hello"))).isEqualTo(0755);
    assertThat(mode(rootfs.resolve("home/app/owned.txt"))).isEqualTo(0600);
    assertThat(mode(rootfs.resolve("var/lib/app"))).isEqualTo(0750);
    assertThat(Files.readSymbolicLink(rootfs.resolve("opt/app/link")))
        .isEqualTo(Path.of("hello.txt"));
    assertThat(Files.readSymbolicLink(rootfs.resolve("usr/local/bin/hi")))
        .isEqualTo(Path.of("/usr/local/bin/hello"));
    assertThat(mode(rootfs.resolve("tmp"))).isEqualTo(01777);
    // rootless unpacking cannot chown: umoci keeps each declared owner in the
    // user.rootlesscontainers xattr
    assertThat(owner(rootfs.resolve("home/app/owned.txt"))).isEqualTo("1000:1000");
    assertThat(owner(rootfs.resolve("var/lib/app"))).isEqualTo("1000:1000");
    assertThat(owner(rootfs.resolve("opt/app/hello.txt"))).isEqualTo("0:0");
    assertThat(owner(rootfs.resolve("bin/busybox"))).isEqualTo("0:0");
  }

  /**
   * The owner umoci recorded: the user.rootlesscontainers protobuf (field 1 uid, field 2 gid,
   * varints) when present, else the unpacking user, who is the declared owner then.
   */
  private static String owner(Path p) throws Exception {
    var view =
        Files.getFileAttributeView(
            p,
            java.nio.file.attribute.UserDefinedFileAttributeView.class,
            LinkOption.NOFOLLOW_LINKS);
    if (!view.list().contains("rootlesscontainers")) {
      return Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS)
          + ":"
          + Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
    }
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(view.size("rootlesscontainers"));
    view.read("rootlesscontainers", b);
    b.flip();
    long[] ids = {0, 0};
    while (b.hasRemaining()) {
      int field = (b.get() & 0xff) >>> 3;
      long v = 0;
      for (int shift = 0; ; shift += 7) {
        int x = b.get() & 0xff;
        v |= (long) (x & 0x7f) << shift;
        if ((x & 0x80) == 0) {
          break;
        }
      }
      ids[field - 1] = v;
    }
    return ids[0] + ":" + ids[1];
  }

  private static int mode(Path p) throws Exception {
    return ((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
  }

  @Test
  void dockerLoadsTheDockerArchiveAndRunsIt() throws Exception {
    String docker = Tools.requireDocker();
    String tag = "kiln-it/hello:" + UUID.randomUUID().toString().substring(0, 8);
    Path tar = tmp.resolve("docker.tar");
    BakeResult r = kiln.bake(build, "docker-archive:" + tar + ":" + tag);
    assertThat(r.digest()).isEqualTo(oci.digest());
    try {
      assertThat(Tools.run(docker, "load", "-i", tar.toString()).ok().output()).contains(tag);
      String out = Tools.run(docker, "run", "--rm", "--network", "none", tag).ok().output();
      assertThat(out).contains("hello from kiln");
      String owner =
          Tools.run(
                  docker,
                  "run",
                  "--rm",
                  "--network",
                  "none",
                  tag,
                  "stat",
                  "-c",
                  "%u:%g %a",
                  "/home/app/owned.txt")
              .ok()
              .output();
      assertThat(owner.strip()).isEqualTo("1000:1000 600");
      String env =
          Tools.run(docker, "image", "inspect", "--format", "{{json .Config.Env}} {{.Id}}", tag)
              .ok()
              .output();
      assertThat(env).contains("GREETING=hi").contains(r.configDigest().toString());
    } finally {
      Tools.run(docker, "rmi", "-f", tag);
    }
  }

  @Test
  void dockerArchiveNamesDefaultToLatestAndBadNamesAreRejected() {
    assertThat(kiln.store()).exists();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> kiln.bake(build, "docker-archive:" + tmp.resolve("x.tar") + ":Bad Name"))
        .isInstanceOf(InvalidTargetException.class);
  }
}
