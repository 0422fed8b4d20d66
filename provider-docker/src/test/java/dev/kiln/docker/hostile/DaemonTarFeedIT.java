package dev.kiln.docker.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.docker.DockerDaemonStore;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code docker-daemon:} fed from the uncompressed tars the bake kept of the layers it wrote: the
 * daemon gets the image whose id is the config digest, with the layers' diffIDs and content; a bake
 * that finds its layers in the store (no kept tars) inflates the stored blobs instead; and a kept
 * tar damaged, cut short or lengthened between its layer's commit and the load never gives the
 * daemon a wrong image: the image is loaded from the stored blobs, with a warning when the damage
 * showed only while it was streamed. Against the real Docker engine.
 */
class DaemonTarFeedIT {
  private static final String REPO = "kiln-it-tarfeed/img";

  @TempDir Path tmp;

  private String docker;
  private String image;
  private byte[] data;
  private Path rootfs;
  private final List<BakeEvent> events = new CopyOnWriteArrayList<>();
  private final List<Throwable> listenerFailures = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    // the kept tars feed the load that starts once the image is written: no load while it is
    // written (DaemonStreamedLoadIT), which would take the layers from their previews instead
    System.setProperty(DockerDaemonStore.STREAM_PROPERTY, "false");
    docker = Tools.requireDocker();
    image = REPO + ":t" + Long.toHexString(new Random().nextLong() & Long.MAX_VALUE);
    data = new byte[3 << 20];
    new Random(11).nextBytes(data);
  }

  @AfterEach
  void removeImage() {
    System.clearProperty(DockerDaemonStore.STREAM_PROPERTY);
    Tools.run(docker, "rmi", "-f", image);
  }

  private ImageBuild build() throws IOException {
    if (rootfs == null) {
      rootfs = Busybox.rootfs(tmp);
    }
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(Layer.files("data").content("/data.bin", data, 0644))
        .config(c -> c.entrypoint("/bin/sh", "-c"));
  }

  private Kiln kiln(java.util.function.Consumer<BakeEvent> also) throws IOException {
    return Kiln.builder()
        .store(tmp.resolve("store"))
        .listener(
            e -> {
              events.add(e);
              try {
                also.accept(e);
              } catch (RuntimeException | Error failure) {
                listenerFailures.add(failure); // a bake swallows listener failures: keep them
                throw failure;
              }
            })
        .build();
  }

  private PublishedImage bake(java.util.function.Consumer<BakeEvent> also, BakeResult[] result)
      throws Exception {
    try (Kiln k = kiln(also)) {
      BakeResult r = k.bake(build(), "docker-daemon:" + image);
      assertThat(listenerFailures).as("the test's own listener failed").isEmpty();
      if (result != null) {
        result[0] = r;
      }
      return r.published().get("docker-daemon:" + image);
    }
  }

  /** The daemon holds exactly the baked image under the tag: id, diffIDs and the file's content. */
  private void assertDaemonHolds(BakeResult r) throws Exception {
    DaemonImages.assertTagged(docker, image, r);
    String sum =
        Tools.run(docker, "run", "--rm", image, "sha256sum /data.bin").ok().output().strip();
    assertThat(sum).startsWith(Digest.of(data).hex());
  }

  @Test
  void theLayersTheBakeWroteGoInFromItsTarsAndTheImageIdIsTheConfigDigest() throws Exception {
    BakeResult[] r = new BakeResult[1];
    PublishedImage p = bake(e -> {}, r);
    assertThat(r[0].provisioned()).hasSize(2).contains("data");
    assertThat(p.details())
        .containsEntry("layersSent", "2")
        .containsEntry("layersFromTars", "2")
        .containsEntry("imageId", r[0].configDigest().toString());
    assertDaemonHolds(r[0]);
    assertThat(events).noneMatch(e -> e instanceof BakeEvent.Warning);
  }

  @Test
  void layersFoundInTheStoreHaveNoTarAndAreInflatedFromTheirBlobs() throws Exception {
    BakeResult[] first = new BakeResult[1];
    bake(e -> {}, first);
    Tools.run(docker, "rmi", "-f", image).ok(); // the daemon lacks the image again
    BakeResult[] r = new BakeResult[1];
    PublishedImage p = bake(e -> {}, r);
    assertThat(r[0].provisioned()).isEmpty();
    assertThat(p.reused()).isFalse();
    assertThat(p.details()).containsEntry("layersSent", "2").containsEntry("layersFromTars", "0");
    assertThat(r[0].configDigest()).isEqualTo(first[0].configDigest());
    assertDaemonHolds(r[0]);
  }

  enum Damage {
    BYTE_CHANGED,
    LAST_BYTE_CHANGED,
    CUT_SHORT,
    LENGTHENED
  }

  @ParameterizedTest
  @EnumSource(Damage.class)
  void aDamagedTarNeverGivesTheDaemonAWrongImage(Damage damage) throws Exception {
    Path store = tmp.resolve("store");
    BakeResult[] r = new BakeResult[1];
    PublishedImage p =
        bake(
            e -> {
              if (e instanceof BakeEvent.LayerProvisioned lp && lp.layer().equals("data")) {
                damage(store, lp.diffId(), damage);
              }
            },
            r);
    LayerRecord dataLayer = r[0].layers().get(1);
    assertThat(dataLayer.name()).isEqualTo("data");
    assertDaemonHolds(r[0]);
    List<String> warnings =
        events.stream()
            .filter(e -> e instanceof BakeEvent.Warning)
            .map(e -> ((BakeEvent.Warning) e).message())
            .toList();
    switch (damage) {
      case BYTE_CHANGED, LAST_BYTE_CHANGED -> {
        // noticed only by hashing it as it is streamed: the whole image goes in again from the
        // store
        assertThat(p.details()).containsEntry("layersFromTars", "0");
        assertThat(warnings)
            .singleElement()
            .asString()
            .contains(dataLayer.diffId().toString())
            .contains("from the stored layers");
      }
      case CUT_SHORT, LENGTHENED -> {
        // another size than the layer's: not used at all
        assertThat(p.details()).containsEntry("layersFromTars", "1");
        assertThat(warnings).isEmpty();
      }
    }
  }

  /** Damages the kept tar of the layer with this diffID in the store's temp area. */
  private static void damage(Path store, Digest diffId, Damage damage) {
    try {
      List<Path> tars = keptTars(store, diffId);
      assertThat(tars).as("the kept tar of " + diffId).hasSize(1);
      try (RandomAccessFile f = new RandomAccessFile(tars.get(0).toFile(), "rw")) {
        switch (damage) {
          case BYTE_CHANGED -> flip(f, f.length() / 2);
          case LAST_BYTE_CHANGED -> flip(f, f.length() - 1);
          case CUT_SHORT -> f.setLength(f.length() - 512);
          case LENGTHENED -> {
            f.seek(f.length());
            f.write(new byte[512]);
          }
        }
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * The kept tars in the store's temp area whose digest is {@code diffId}. Other layers' temp files
   * come and go while this runs (the listener is called while the rest of the bake goes on): a file
   * or directory that vanishes during the walk is passed over, and the walk is tried again.
   */
  private static List<Path> keptTars(Path store, Digest diffId) throws IOException {
    for (int attempt = 0; ; attempt++) {
      try (Stream<Path> s = Files.walk(store.resolve("tmp"))) {
        List<Path> named =
            s.filter(f -> f.getFileName().toString().matches("kiln-layer-.*\\.tar")).toList();
        List<Path> tars = new java.util.ArrayList<>();
        for (Path f : named) {
          try {
            if (Digest.of(Files.readAllBytes(f)).equals(diffId)) {
              tars.add(f);
            }
          } catch (java.nio.file.NoSuchFileException gone) {
            // another layer's temp file, removed since the walk saw it
          }
        }
        return tars;
      } catch (java.io.UncheckedIOException e) {
        if (!(e.getCause() instanceof java.nio.file.NoSuchFileException) || attempt == 4) {
          throw e;
        }
      }
    }
  }

  private static void flip(RandomAccessFile f, long at) throws IOException {
    f.seek(at);
    int b = f.read();
    f.seek(at);
    f.write(b ^ 0x5a);
  }
}
