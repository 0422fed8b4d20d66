package dev.kiln.examples.ansible;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Kiln;
import dev.kiln.LayerRecord;
import dev.kiln.disk.DiskImage;
import dev.kiln.docker.KilnImages;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.Tools;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * The Ansible example end to end: its playbook baked into the daemon and a raw disk from one
 * definition (the layer provisioned once), the image serving the page the role templated, and the
 * disk holding the same files.
 */
class AnsibleWebServerIT {
  private static final String IMAGE = "kiln-examples/ansible-web:it";

  @AfterAll
  static void removeImage() {
    Tools.removeImagesAndParents(IMAGE);
  }

  @Test
  void theRoleIsBakedOnceIntoTheDaemonAndTheDisk(@TempDir Path tmp) throws Exception {
    Tools.requireDocker();
    Tools.require("ansible-playbook", "ansible");
    String debugfs = Tools.require("debugfs", "e2fsprogs");
    Path rootfs = Fixtures.debianWithKernel();
    Path disk = tmp.resolve("web.img");
    RecordingListener events = new RecordingListener();
    BakeResult r;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).listener(events).build()) {
      r =
          AnsibleWebServer.bake(
              kiln,
              AnsibleWebServer.definition(
                  rootfs, AnsibleWebServer.defaultPlaybook(), "kiln example IT"),
              IMAGE,
              disk);
    }
    LayerRecord ansible = r.layers().get(1);
    assertThat(ansible.kind()).isEqualTo("ansible");
    assertThat(events.of(BakeEvent.LayerProvisioned.class))
        .filteredOn(e -> e.kind().equals("ansible"))
        .hasSize(1);
    assertThat(events.of(BakeEvent.Output.class))
        .extracting(BakeEvent.Output::line)
        .contains(
            "TASK [webapp : write the configuration]",
            "RUNNING HANDLER [webapp : validate the configuration]");

    try (GenericContainer<?> web =
        new GenericContainer<>(KilnImages.dockerImageName(r))
            .withExposedPorts(8080)
            .waitingFor(Wait.forHttp("/").forStatusCode(200))) {
      web.start();
      URI uri = URI.create("http://" + web.getHost() + ":" + web.getMappedPort(8080) + "/");
      HttpResponse<String> page =
          HttpClient.newHttpClient()
              .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(page.body()).contains("<h1>kiln example IT</h1>", "served on port 8080");
    }

    DiskImage image = DiskImage.read(disk);
    String root = disk + "?offset=" + image.rootOffset();
    assertThat(Tools.run(debugfs, "-R", "cat /srv/webapp/index.html", root).ok().output())
        .contains("<h1>kiln example IT</h1>");
    assertThat(Tools.run(debugfs, "-R", "stat /etc/webapp/webapp.conf", root).ok().output())
        .containsPattern("Mode:\\s+0640")
        .containsPattern("User:\\s+0\\s+Group:\\s+990");
    assertThat(
            Tools.run(
                    debugfs,
                    "-R",
                    "stat /etc/systemd/system/multi-user.target.wants/webapp.service",
                    root)
                .ok()
                .output())
        .contains("Type: symlink")
        .contains("/etc/systemd/system/webapp.service");
  }
}
