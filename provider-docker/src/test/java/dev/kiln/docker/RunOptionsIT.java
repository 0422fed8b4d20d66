package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.RunLayer;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.RecordingListener;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets (done-when 6), inputs, environment, user, working directory and network of run layers.
 */
class RunOptionsIT {
  @TempDir static Path shared;
  static Path rootfs;
  static Path store;

  @BeforeAll
  static void setUp() throws Exception {
    DockerTesting.docker();
    rootfs = Busybox.rootfs(shared);
    store = shared.resolve("store");
  }

  @AfterAll
  static void cleanUp() {
    DockerTesting.removeParentImages();
  }

  @Test
  void secretIsReadableByTheCommandsAndInNoLayer(@TempDir Path tmp) throws Exception {
    String value = "s3cr3t-" + java.util.UUID.randomUUID();
    Path secret = tmp.resolve("token");
    Files.writeString(secret, value + "\n");
    ImageBuild build =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(
                Layer.run(
                        "uses-secret",
                        "test \"$(cat /run/secrets/token)\" = \"" + value + "\"",
                        "wc -c /run/secrets/token > /proof",
                        "mkdir -p /run/app && echo pid > /run/app/pid")
                    .secret("token", secret));
    BakeResult r;
    try (Kiln kiln = Kiln.builder().store(store).build()) {
      r = kiln.bake(build);
    }
    Map<String, LayerEntry> entries = entries(r, 1);
    assertThat(entries)
        .containsKeys("proof", "run/app/pid")
        .doesNotContainKeys("run/secrets", "run/secrets/token");
    for (String blob : DockerTesting.decompressedBlobs(store)) {
      assertThat(blob).doesNotContain(value);
    }
  }

  @Test
  void secretContentIsNotPartOfTheKeyButItsNameIs(@TempDir Path tmp) throws Exception {
    Path secret = tmp.resolve("token");
    Files.writeString(secret, "one");
    RunLayer layer =
        Layer.run("s", "test -s /run/secrets/token", "echo done > /done").secret("token", secret);
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      BakeResult first = kiln.bake(ImageBuild.from(Base.rootfs(rootfs)).layer(layer));
      Files.writeString(secret, "two, rotated");
      BakeResult second = kiln.bake(ImageBuild.from(Base.rootfs(rootfs)).layer(layer));
      assertThat(second.provisioned()).isEmpty();
      assertThat(second.layers().get(1).key()).isEqualTo(first.layers().get(1).key());
      BakeResult renamed =
          kiln.bake(
              ImageBuild.from(Base.rootfs(rootfs))
                  .layer(
                      Layer.run("s", "test -s /run/secrets/token2", "echo done > /done")
                          .secret("token2", secret)));
      assertThat(renamed.layers().get(1).key()).isNotEqualTo(first.layers().get(1).key());
    }
  }

  @Test
  void inputsAreMountedReadOnlyAndTheirContentIsTheKey(@TempDir Path tmp) throws Exception {
    Path conf = tmp.resolve("conf");
    Files.createDirectories(conf.resolve("sub"));
    Files.writeString(conf.resolve("app.conf"), "port=8080\n");
    Files.writeString(conf.resolve("sub/extra.conf"), "x=1\n");
    Path script = tmp.resolve("install.sh");
    Files.writeString(script, "#!/bin/sh\ncp /mnt/conf/app.conf /etc/app.conf\n");
    RecordingListener events = new RecordingListener();
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).listener(events).build()) {
      ImageBuild build =
          ImageBuild.from(Base.rootfs(rootfs))
              .layer(
                  Layer.run(
                          "install",
                          "sh /tmp/install.sh",
                          "cat /mnt/conf/sub/extra.conf",
                          "! touch /mnt/conf/new 2>/dev/null")
                      .input(conf, "/mnt/conf")
                      .input(script, "/tmp/install.sh"));
      BakeResult r = kiln.bake(build);
      assertThat(entries(r, 1).keySet()).containsExactlyInAnyOrder("etc", "etc/app.conf");
      assertThat(events.of(BakeEvent.Output.class))
          .extracting(BakeEvent.Output::line)
          .contains("x=1");
      assertThat(r.layers().get(1).inputs())
          .extracting(i -> i.name())
          .containsExactly("input /mnt/conf", "input /tmp/install.sh");

      BakeResult again = kiln.bake(build);
      assertThat(again.provisioned()).isEmpty();
      Files.writeString(conf.resolve("sub/extra.conf"), "x=2\n");
      BakeResult changed = kiln.bake(build);
      assertThat(changed.provisioned()).containsExactly("install");
    }
  }

  @Test
  void environmentUserWorkdirAndNetwork(@TempDir Path tmp) throws Exception {
    ImageBuild build =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(Layer.run("home", "mkdir -p /home/app", "chown 1000:1000 /home/app"))
            .layer(
                Layer.run(
                        "as-app",
                        "echo \"$GREETING from $(id -u):$(id -g) in $(pwd)\" > note",
                        "ls /sys/class/net > nets")
                    .env("GREETING", "hello")
                    .user("1000:1000")
                    .workdir("/home/app")
                    .network("none"));
    BakeResult r;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      r = kiln.bake(build);
    }
    assertThat(entries(r, 1).get("home/app").uid()).isEqualTo(1000);
    Map<String, LayerEntry> e = entries(r, 2);
    assertThat(e.keySet())
        .containsExactlyInAnyOrder("home", "home/app", "home/app/note", "home/app/nets");
    assertThat(e.get("home/app/note").uid()).isEqualTo(1000);
    assertThat(content(r, 2, "home/app/note")).isEqualTo("hello from 1000:1000 in /home/app\n");
    assertThat(content(r, 2, "home/app/nets")).isEqualTo("lo\n");
  }

  @Test
  void layersRunWithTheEnvironmentAndWorkdirOfTheirBase(@TempDir Path tmp) throws Exception {
    ImageBuild base =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(Layer.run("srv", "mkdir -p /srv/app"))
            .config(
                c ->
                    c.env("APP_HOME", "/srv/app")
                        .env("PATH", "/opt/tools:/usr/bin:/bin")
                        .workdir("/srv/app")
                        .user("1000"));
    ImageBuild app =
        ImageBuild.from(Base.of(base))
            .layer(Layer.run("uses-base", "echo \"$APP_HOME|$PATH|$(pwd)|$(id -u)\" > note"));
    ImageBuild overridden =
        ImageBuild.from(Base.of(base))
            .layer(
                Layer.run("uses-base", "echo \"$APP_HOME|$PATH|$(pwd)|$(id -u)\" > note")
                    .env("APP_HOME", "/elsewhere"));
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      BakeResult r = kiln.bake(app);
      // ENV and WORKDIR of the base apply, as to a Dockerfile's RUN; the layer still runs as root
      assertThat(content(r, 2, "srv/app/note"))
          .isEqualTo("/srv/app|/opt/tools:/usr/bin:/bin|/srv/app|0\n");
      BakeResult o = kiln.bake(overridden);
      assertThat(content(o, 2, "srv/app/note"))
          .isEqualTo("/elsewhere|/opt/tools:/usr/bin:/bin|/srv/app|0\n");
      // the same layer over a base with another environment is another key, never the cached result
      BakeResult plain =
          kiln.bake(
              ImageBuild.from(Base.rootfs(rootfs))
                  .layer(Layer.run("srv", "mkdir -p /srv/app"))
                  .layer(
                      Layer.run("uses-base", "echo \"$APP_HOME|$PATH|$(pwd)|$(id -u)\" > note")));
      assertThat(plain.layers().get(2).key()).isNotEqualTo(r.layers().get(2).key());
      assertThat(plain.layers().get(1).key()).isEqualTo(r.layers().get(1).key());
      assertThat(content(plain, 2, "note"))
          .startsWith("|")
          .endsWith("|/|0\n")
          .doesNotContain("/opt/tools");
    }
  }

  @Test
  void provisionerConfiguredInCodeCanLeaveNoParentImageBehind(@TempDir Path tmp) throws Exception {
    DockerProvisioners docker = DockerProvisioners.builder().keepParentImages(false).build();
    ImageBuild build =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(
                Layer.files("unique")
                    .content("/unique", java.util.UUID.randomUUID().toString().getBytes(), 0644))
            .layer(Layer.run("touch", "touch /touched"));
    DockerState before = DockerState.now();
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).provisioner(docker.run()).build()) {
      assertThat(kiln.bake(build).provisioned()).contains("touch");
    }
    assertThat(DockerState.now()).isEqualTo(before);
  }

  static Map<String, LayerEntry> entries(BakeResult r, int layer) throws Exception {
    Map<String, LayerEntry> m = new LinkedHashMap<>();
    try (LayerReader reader =
        LayerReader.open(DockerTesting.blob(store(r), r.layers().get(layer).digest()))) {
      LayerEntry e;
      while ((e = reader.next()) != null) {
        m.put(e.path(), e);
      }
    }
    return m;
  }

  static String content(BakeResult r, int layer, String path) throws Exception {
    try (LayerReader reader =
        LayerReader.open(DockerTesting.blob(store(r), r.layers().get(layer).digest()))) {
      LayerEntry e;
      while ((e = reader.next()) != null) {
        if (e.path().equals(path)) {
          ByteArrayOutputStream out = new ByteArrayOutputStream();
          try (InputStream in = e.content().open()) {
            in.transferTo(out);
          }
          return out.toString(StandardCharsets.UTF_8);
        }
      }
    }
    throw new AssertionError("no " + path);
  }

  /** The store a result's record lives in: records are under STORE/records. */
  static Path store(BakeResult r) {
    Path p = r.record();
    while (p != null && !Files.isDirectory(p.resolve("blobs"))) {
      p = p.getParent();
    }
    return p;
  }
}
