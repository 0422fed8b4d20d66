package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Platform;
import dev.kiln.PublishedImage;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Tools;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code docker-daemon:} loads the layers the bake writes while it writes them: the load starts
 * with the first layer, each layer's tar goes in as it is written, and publishing only appends the
 * config and the manifest. The daemon holds exactly the image (its id is the config digest, its
 * layers' diffIDs are the image's, a container reads the file), and a rebake after one file changed
 * streams only that layer. Against the real Docker engine.
 */
class DaemonStreamedLoadIT {
  private static final String REPO = "kiln-it-streamload/img";

  @TempDir Path tmp;

  private String docker;
  private String image;
  private Path rootfs;
  private final List<BakeEvent> events = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    docker = DockerTesting.docker();
    image = REPO + ":t" + Long.toHexString(new Random().nextLong() & Long.MAX_VALUE);
    // a base layer of its own: the daemon lacks it whatever other tests loaded
    rootfs = Busybox.rootfsMarked(tmp, image);
  }

  @AfterEach
  void removeImage() {
    Tools.run(docker, "rmi", "-f", image);
  }

  private static byte[] data(long seed) {
    byte[] b = new byte[6 << 20];
    new Random(seed).nextBytes(b);
    return b;
  }

  private ImageBuild build(byte[] big, String note) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(
            Layer.files("data")
                .content("/data/big.bin", big, 0644)
                .content("/data/note.txt", note.getBytes(StandardCharsets.UTF_8), 0644))
        .config(c -> c.entrypoint("/bin/sh", "-c"));
  }

  private BakeResult bake(Path store, ImageBuild build) throws Exception {
    try (Kiln k = Kiln.builder().store(store).listener(events::add).build()) {
      return k.bake(build, "docker-daemon:" + image);
    }
  }

  @Test
  void theLayersGoIntoTheLoadWhileTheyAreWrittenAndTheDaemonHoldsExactlyTheImage()
      throws Exception {
    Path store = tmp.resolve("store");
    byte[] big = data(5);
    BakeResult r = bake(store, build(big, "one"));
    assertThat(r.provisioned()).hasSize(2).contains("data");
    PublishedImage p = r.published().get("docker-daemon:" + image);
    assertThat(p.details())
        .containsEntry("layersStreamed", "2")
        .containsEntry("layersSent", "2")
        .containsEntry("layersFromTars", "0")
        .containsEntry("loadedEarly", "true")
        .containsEntry("imageId", r.configDigest().toString());
    assertThat(Long.parseLong(p.details().get("bytesStreamed")))
        .isEqualTo(r.layers().stream().mapToLong(l -> l.size()).sum());
    assertThat(events).noneMatch(e -> e instanceof BakeEvent.Warning);
    assertDaemonHolds(r, big, "one");

    // one file changed: only the files layer is written, streamed and sent
    events.clear();
    BakeResult r2 = bake(store, build(big, "two"));
    assertThat(r2.provisioned()).containsExactly("data");
    assertThat(r2.configDigest()).isNotEqualTo(r.configDigest());
    assertThat(r2.published().get("docker-daemon:" + image).details())
        .containsEntry("layersStreamed", "1")
        .containsEntry("layersSent", "1")
        .containsEntry("layersFromTars", "0")
        .containsEntry("loadedEarly", "true");
    assertThat(events).noneMatch(e -> e instanceof BakeEvent.Warning);
    assertDaemonHolds(r2, big, "two");
    Tools.run(docker, "rmi", "-f", r.configDigest().toString());
  }

  @Test
  void anEarlyBakeReturnsWithTheImageTaggedInTheDaemonBeforeTheStoreHasIt() throws Exception {
    Path store = tmp.resolve("store");
    byte[] big = data(9);
    BakeResult early;
    // held at the image's assembly until the daemon's tag is checked
    java.util.concurrent.CountDownLatch checked = new java.util.concurrent.CountDownLatch(1);
    try (Kiln k =
        Kiln.builder()
            .store(store)
            .listener(
                e -> {
                  events.add(e);
                  if (e instanceof BakeEvent.ImageAssembled) {
                    try {
                      checked.await(60, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (InterruptedException ex) {
                      Thread.currentThread().interrupt();
                    }
                  }
                })
            .build()) {
      dev.kiln.EarlyBake e = k.bakeEarly(build(big, "early"), "docker-daemon:" + image);
      assertThat(e.returnedEarly()).isTrue();
      // held at the assembly (whose event may come before or after the daemon named the image):
      // the call returned without waiting for the store
      assertThat(e.isDone()).isFalse();
      assertThat(Tools.run(docker, "image", "inspect", "--format", "{{.Id}}", image).ok().output())
          .as("the daemon holds the image, tagged, when the bake returns")
          .isEqualToIgnoringWhitespace(e.imageId().toString());
      String out = Tools.run(docker, "run", "--rm", image, "cat /data/note.txt").ok().output();
      assertThat(out).contains("early");
      checked.countDown();
      BakeResult r = e.await();
      early = r;
      assertThat(r.configDigest()).isEqualTo(e.imageId());
      assertThat(r.provisioned()).hasSize(2).contains("data");
      assertThat(r.published().get("docker-daemon:" + image).details())
          .containsEntry("layersStreamed", "2")
          .containsEntry("loadedEarly", "true")
          .containsEntry("imageId", r.configDigest().toString());
      assertThat(r.published().get("docker-daemon:" + image).reused()).isFalse();
      assertThat(r.record()).exists();
      assertThat(events).noneMatch(x -> x instanceof BakeEvent.Warning);
      assertDaemonHolds(r, big, "early");

      // nothing changed: the daemon has the image, so the bake returns with its whole result
      dev.kiln.EarlyBake same = k.bakeEarly(build(big, "early"), "docker-daemon:" + image);
      assertThat(same.returnedEarly()).isFalse();
      assertThat(same.isDone()).isTrue();
      assertThat(same.await().digest()).isEqualTo(r.digest());
      assertThat(same.await().published().get("docker-daemon:" + image).reused()).isTrue();
    }
    // a bake that waits, of the same definition in another store: the same image
    BakeResult waited = bake(tmp.resolve("store2"), build(big, "early"));
    assertThat(waited.digest()).isEqualTo(early.digest());
  }

  @Test
  void withStreamingSwitchedOffTheImageIsLoadedOnceWritten() throws Exception {
    System.setProperty(DockerDaemonStore.STREAM_PROPERTY, "false");
    try {
      byte[] big = data(6);
      BakeResult r = bake(tmp.resolve("store"), build(big, "off"));
      assertThat(r.published().get("docker-daemon:" + image).details())
          .containsEntry("layersStreamed", "0")
          .containsEntry("layersFromTars", "2");
      assertDaemonHolds(r, big, "off");
    } finally {
      System.clearProperty(DockerDaemonStore.STREAM_PROPERTY);
    }
  }

  @Test
  void aBakeOfSeveralPlatformsStreamsOnlyTheLayersOfTheDaemonsOwn() throws Exception {
    // two platforms, each image with a base layer of its own and the files layer above it: the
    // daemon (amd64) takes the amd64 image alone, so only its two layers go into the load
    Path arm64 =
        Busybox.rootfsMarked(Files.createDirectories(tmp.resolve("arm64")), image + "-arm64");
    byte[] big = data(8);
    ImageBuild build =
        ImageBuild.from(
                Base.byPlatform(
                    Map.of(
                        Platform.LINUX_AMD64, Base.rootfs(rootfs),
                        Platform.LINUX_ARM64, Base.rootfs(arm64))))
            .layer(Layer.files("data").content("/data/big.bin", big, 0644))
            .platforms(Platform.LINUX_AMD64, Platform.LINUX_ARM64);
    BakeResult r = bake(tmp.resolve("store"), build);
    assertThat(r.provisioned()).contains("data");
    BakeResult amd64 = r.platforms().get(Platform.LINUX_AMD64);
    assertThat(r.published().get("docker-daemon:" + image).details())
        .containsEntry("layersStreamed", "2")
        .containsEntry("layersSent", "2")
        .containsEntry("layersFromTars", "0")
        .containsEntry("imageId", amd64.configDigest().toString());
    assertThat(events).noneMatch(e -> e instanceof BakeEvent.Warning);
    assertDaemonHolds(docker, image, amd64, tmp);
  }

  /**
   * The tag names the config digest; {@code docker save} gives the image's config and layer
   * diffIDs; a container reads the files.
   */
  private void assertDaemonHolds(BakeResult r, byte[] big, String note) throws Exception {
    assertDaemonHolds(docker, image, r, tmp);
    String out =
        Tools.run(docker, "run", "--rm", image, "sha256sum /data/big.bin; cat /data/note.txt")
            .ok()
            .output();
    assertThat(out).contains(Digest.of(big).hex()).contains(note);
  }

  /** The daemon's {@code image} is exactly {@code r}: id, config and layer diffIDs. */
  static void assertDaemonHolds(String docker, String image, BakeResult r, Path tmp)
      throws Exception {
    assertThat(Tools.run(docker, "image", "inspect", "--format", "{{.Id}}", image).ok().output())
        .isEqualToIgnoringWhitespace(r.configDigest().toString());
    Path saved = Files.createTempFile(tmp, "saved-", ".tar");
    Tools.run(docker, "save", "-o", saved.toString(), image).ok();
    JsonNode manifest = null;
    List<String> diffIds = new ArrayList<>();
    java.util.Map<String, String> layerDigests = new java.util.HashMap<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(saved))) {
      TarArchiveEntry e;
      while ((e = in.getNextTarEntry()) != null) {
        if (e.getName().equals("manifest.json")) {
          manifest = new ObjectMapper().readTree(in.readAllBytes());
        } else if (e.getName().endsWith("/layer.tar")) {
          layerDigests.put(e.getName(), Digest.of(readAll(in)).toString());
        }
      }
    }
    assertThat(manifest).isNotNull();
    for (JsonNode l : manifest.get(0).get("Layers")) {
      diffIds.add(layerDigests.get(l.asText()));
    }
    assertThat(diffIds).isEqualTo(r.layers().stream().map(l -> l.diffId().toString()).toList());
    Files.delete(saved);
  }

  private static byte[] readAll(InputStream in) throws java.io.IOException {
    return in.readAllBytes();
  }
}
