package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Done-when 1 and 2: a run layer that writes, edits and deletes files, loaded into the daemon and
 * run.
 */
class RunLayerIT {
  private static final String IMAGE = "kiln-it/run:1";

  @AfterAll
  static void cleanUp() {
    DockerTesting.removeImages(IMAGE);
    DockerTesting.removeParentImages();
  }

  static ImageBuild definition(Path tmp) throws Exception {
    Path rootfs = Busybox.rootfs(tmp);
    Path app = tmp.resolve("app");
    Files.createDirectories(app);
    Files.writeString(app.resolve("hello.txt"), "hello\n");
    Files.writeString(app.resolve("config.txt"), "mode=old\n");
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(Layer.files("app").add(app, "/app"))
        .layer(
            Layer.run(
                "edit",
                "echo new > /app/new.txt",
                "sed -i s/old/edited/ /app/config.txt",
                "rm /app/hello.txt",
                "mkdir -p /var/lib/x && echo y > /var/lib/x/y && chmod 0600 /var/lib/x/y",
                "ln -s /app/new.txt /app/link"))
        .config(c -> c.cmd("/bin/sh", "-c", "cat /app/new.txt /app/config.txt; ls /app"));
  }

  @Test
  void writesEditsAndDeletesBecomeTheLayer(@TempDir Path tmp) throws Exception {
    String docker = DockerTesting.docker();
    RecordingListener events = new RecordingListener();
    BakeResult r;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).listener(events).build()) {
      r = kiln.bake(definition(tmp), "docker-daemon:" + IMAGE);
    }
    assertThat(r.layers()).extracting(l -> l.name()).containsExactly("rootfs", "app", "edit");

    String out = Tools.run(docker, "run", "--rm", IMAGE).ok().output();
    assertThat(out)
        .contains("new")
        .contains("mode=edited")
        .contains("config.txt")
        .doesNotContain("hello");

    String layers =
        Tools.run(
                docker,
                "image",
                "inspect",
                IMAGE,
                "--format",
                "{{range .RootFS.Layers}}{{println .}}{{end}}")
            .ok()
            .output();
    assertThat(layers.strip().split("\n"))
        .containsExactlyElementsOf(r.diffIds().stream().map(Object::toString).toList());

    // the run layer holds exactly what the commands changed
    Map<String, LayerEntry> entries = new LinkedHashMap<>();
    try (LayerReader reader =
        LayerReader.open(DockerTesting.blob(tmp.resolve("store"), r.layers().get(2).digest()))) {
      LayerEntry e;
      while ((e = reader.next()) != null) {
        entries.put(e.path() + (e.type() == LayerEntry.Type.WHITEOUT ? " (whiteout)" : ""), e);
      }
    }
    assertThat(entries.keySet())
        .containsExactlyInAnyOrder(
            "app",
            "app/new.txt",
            "app/config.txt",
            "app/hello.txt (whiteout)",
            "app/link",
            "var",
            "var/lib",
            "var/lib/x",
            "var/lib/x/y");
    assertThat(entries.get("var/lib/x/y").mode()).isEqualTo(0600);
    assertThat(entries.get("app/link").linkTarget()).isEqualTo("/app/new.txt");
  }

  @Test
  void sameDefinitionGivesTheSameRunLayerInFreshStores(@TempDir Path tmp) throws Exception {
    DockerTesting.docker();
    ImageBuild build = definition(tmp);
    BakeResult a;
    BakeResult b;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store-a")).build()) {
      a = kiln.bake(build);
    }
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store-b")).build()) {
      b = kiln.bake(build);
    }
    assertThat(b.provisioned()).contains("edit");
    assertThat(b.layers().get(2).diffId()).isEqualTo(a.layers().get(2).diffId());
    assertThat(b.layers().get(2).digest()).isEqualTo(a.layers().get(2).digest());
    assertThat(b.digest()).isEqualTo(a.digest());
  }
}
