package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Digest;
import dev.kiln.Kiln;
import dev.kiln.LayerRecord;
import dev.kiln.disk.DiskImage;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.Tools;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #4, done-when 4: one definition with an Ansible layer baked for {@code docker-daemon:} and
 * {@code raw:} at once provisions the layer once, and both targets hold that layer: the daemon
 * lists its diffID, and the raw disk's ext4 root holds its files with their owners and modes (read
 * back with debugfs).
 */
class AnsibleDiskIT {
  private static final String IMAGE = "kiln-it/ansible-disk:1";

  @TempDir Path tmp;

  @AfterAll
  static void cleanUp() {
    DockerTesting.removeImages(IMAGE);
    DockerTesting.removeParentImages();
  }

  @Test
  void oneProvisioningServesTheDaemonAndTheRawDisk() throws Exception {
    String docker = DockerTesting.docker();
    Tools.require("ansible-playbook", "ansible");
    String debugfs = Tools.require("debugfs", "e2fsprogs");
    Path rootfs = Fixtures.debianWithKernel();
    Path playbook = AnsibleIT.checkout(tmp.resolve("repo"));
    Path disk = tmp.resolve("web.img");
    RecordingListener events = new RecordingListener();
    BakeResult r;
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store")).listener(events).build()) {
      r = kiln.bake(AnsibleIT.web(rootfs, playbook, 8080), "docker-daemon:" + IMAGE, "raw:" + disk);

      assertThat(events.of(BakeEvent.LayerProvisioned.class))
          .filteredOn(e -> e.kind().equals("ansible"))
          .hasSize(1);
      assertThat(events.of(BakeEvent.Output.class))
          .filteredOn(o -> o.line().equals("TASK [web : write the configuration]"))
          .hasSize(1);
      assertThat(events.of(BakeEvent.ImagePublished.class))
          .extracting(BakeEvent.ImagePublished::target)
          .containsExactlyInAnyOrder("docker-daemon:" + IMAGE, "raw:" + disk);

      // baked again for another raw file from the same store: the layer comes from the cache
      events.clear();
      BakeResult again =
          kiln.bake(AnsibleIT.web(rootfs, playbook, 8080), "raw:" + tmp.resolve("copy.img"));
      assertThat(events.provisioned()).isEmpty();
      assertThat(events.of(BakeEvent.CacheHit.class))
          .filteredOn(h -> h.kind().equals("ansible"))
          .extracting(BakeEvent.CacheHit::diffId)
          .containsExactly(r.layers().get(2).diffId());
      assertThat(again.diffIds()).isEqualTo(r.diffIds());
    }
    LayerRecord ansible = r.layers().get(2);
    assertThat(ansible.kind()).isEqualTo("ansible");

    // the daemon's image has exactly the store's layers, the Ansible layer's diffID among them
    JsonNode inspect =
        new ObjectMapper()
            .readTree(Tools.run(docker, "image", "inspect", IMAGE).ok().output())
            .get(0);
    List<Digest> daemonLayers = new ArrayList<>();
    inspect.path("RootFS").path("Layers").forEach(l -> daemonLayers.add(Digest.parse(l.asText())));
    assertThat(daemonLayers).isEqualTo(r.diffIds()).contains(ansible.diffId());
    String conf = Tools.run(docker, "run", "--rm", IMAGE, "cat", "/etc/web/web.conf").ok().output();

    // the raw disk holds the same files, owners and modes
    DiskImage image = DiskImage.read(disk);
    String root = disk + "?offset=" + image.rootOffset();
    assertThat(Tools.run(debugfs, "-R", "cat /etc/web/web.conf", root).ok().output())
        .contains(conf);
    assertThat(Tools.run(debugfs, "-R", "stat /etc/web/web.conf", root).ok().output())
        .containsPattern("Mode:\\s+0640")
        .containsPattern("User:\\s+0\\s+Group:\\s+1501");
    assertThat(Tools.run(debugfs, "-R", "stat /srv/web", root).ok().output())
        .containsPattern("Type: directory\\s+Mode:\\s+02750")
        .containsPattern("User:\\s+1501\\s+Group:\\s+1501");
    assertThat(Tools.run(debugfs, "-R", "cat /etc/passwd", root).ok().output())
        .contains("www-app:x:1501:1501::/home/www-app:/usr/sbin/nologin");
  }
}
