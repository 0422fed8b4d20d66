package dev.kiln.docker.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.docker.FaultyProxy;
import dev.kiln.docker.LocalRegistry;
import dev.kiln.docker.StreamTesting;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.LayerInProgress;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Layers streamed to a registry while they are written, when something goes wrong: bytes that are
 * not the blob, a registry that fails every part, a write that fails half-way, a bake that ends
 * while an upload is held. Whatever happens, the registry ends up with the exact image or with no
 * manifest at all, the bake does not wait for an upload it no longer needs, and no thread is left.
 * Against Debian's docker-registry on loopback, behind a proxy that records (and fails or holds)
 * requests.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RegistryStreamHostileIT {
  private static final int MIB = 1 << 20;

  @TempDir static Path shared;
  static LocalRegistry registry;

  @TempDir Path tmp;

  @BeforeAll
  static void setUp() throws Exception {
    Tools.require("skopeo", "skopeo");
    registry = LocalRegistry.start(shared.resolve("registry"));
  }

  @AfterAll
  static void tearDown() {
    if (registry != null) {
      registry.close();
    }
  }

  @AfterEach
  void noThreadIsLeft() throws InterruptedException {
    StreamTesting.joinStreamThreads();
    assertThat(StreamTesting.streamThreads()).isEmpty();
  }

  private Kiln kiln(UnaryOperator<LayerInProgress> hook) throws IOException {
    ImageStoreProvider stores = StreamTesting.hooked(hook);
    return Kiln.builder().store(tmp.resolve("store")).imageStores(stores).build();
  }

  private ImageBuild oneLayer() throws IOException {
    Path app = tmp.resolve("app");
    StreamTesting.randomFile(app.resolve("a.bin"), 6 * MIB, 11);
    return ImageBuild.from(Base.scratch()).layer(Layer.files("app").addTree(app, "/app"));
  }

  /**
   * The store reads bytes that are not those the layer's digest was computed from (one byte
   * differs, as when the blob's file is changed under the writer): the registry refuses the digest
   * and the blob goes up again from the stored layer.
   */
  @Test
  void streamedBytesThatAreNotTheBlobAreRefusedAndTheBlobIsSentAgain() throws Exception {
    ImageBuild build = oneLayer();
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0);
        Kiln kiln = kiln(RegistryStreamHostileIT::flipByte100)) {
      String target = "docker://" + proxy.host() + "/kiln/flipped:1";
      BakeResult r = kiln.bake(build, target);
      Digest layer = r.layers().get(0).digest();
      assertThat(r.published().get(target).details())
          .containsEntry("blobsStreamed", "0")
          .containsEntry("blobsUploaded", "2");
      List<FaultyProxy.Seen> seen = proxy.seen();
      // the streamed upload (one part: it went with the PUT) was completed with the digest and
      // refused, cancelled, and then the blob went again from the store
      assertThat(
              seen.stream()
                  .filter(
                      s ->
                          s.method().equals("PUT")
                              && s.path().endsWith("digest=" + enc(layer))
                              && s.bodyBytes() == r.layers().get(0).size()))
          .hasSize(2);
      assertThat(seen)
          .anyMatch(s -> s.method().equals("DELETE") && s.path().contains("/blobs/uploads/"));
      assertExact(r, "kiln/flipped", "1");
    }
  }

  /**
   * A registry that fails every PATCH (a layer of more than one part): the streamed upload is
   * cancelled, the blob sent the usual way.
   */
  @Test
  void aRegistryThatFailsEveryPartGetsTheBlobTheUsualWay() throws Exception {
    Path app = tmp.resolve("app");
    StreamTesting.randomFile(app.resolve("a.bin"), 12 * MIB, 14); // more than one part
    ImageBuild build =
        ImageBuild.from(Base.scratch()).layer(Layer.files("app").addTree(app, "/app"));
    try (AutoCloseable parts = StreamTesting.partSizes(MIB, 4 * MIB);
        FaultyProxy proxy =
            new FaultyProxy(registry.host(), s -> s.method().equals("PATCH"), Integer.MAX_VALUE);
        Kiln kiln = kiln(l -> l)) {
      String target = "docker://" + proxy.host() + "/kiln/no-patch:1";
      BakeResult r = kiln.bake(build, target);
      assertThat(proxy.failures()).isPositive();
      assertThat(r.published().get(target).details())
          .containsEntry("blobsStreamed", "0")
          .containsEntry("blobsUploaded", "2");
      assertThat(proxy.seen())
          .anyMatch(s -> s.method().equals("DELETE") && s.path().contains("/blobs/uploads/"));
      assertExact(r, "kiln/no-patch", "1");
    }
  }

  /**
   * An input file changes while the layer is written (after the store started streaming it): the
   * write fails, the upload is abandoned and cancelled, no manifest is put; baking again works.
   */
  @Test
  void aWriteThatFailsHalfWayAbandonsItsUpload() throws Exception {
    Path app = tmp.resolve("app");
    StreamTesting.randomFile(app.resolve("a.bin"), 12 * MIB, 12);
    Path last = Files.writeString(app.resolve("z.conf"), "mode=SAFE\n");
    ImageBuild build =
        ImageBuild.from(Base.scratch()).layer(Layer.files("app").addTree(app, "/app"));
    AtomicBoolean edited = new AtomicBoolean();
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0);
        Kiln kiln = kiln(l -> editOnce(l, last, edited))) {
      String target = "docker://" + proxy.host() + "/kiln/half:1";
      Throwable t = catchThrowable(() -> kiln.bake(build, target));
      assertThat(t).isInstanceOf(BakeException.class).hasMessageContaining("z.conf");
      StreamTesting.joinStreamThreads();
      assertThat(StreamTesting.manifest(registry.host(), "kiln/half", "1")).isEmpty();
      List<FaultyProxy.Seen> seen = proxy.seen();
      assertThat(seen)
          .anyMatch(s -> s.method().equals("DELETE") && s.path().contains("/blobs/uploads/"));
      assertThat(seen).noneMatch(s -> s.method().equals("PUT") && s.path().contains("digest="));

      BakeResult r = kiln.bake(build, target);
      assertThat(r.published().get(target).details()).containsEntry("blobsStreamed", "1");
      assertExact(r, "kiln/half", "1");
    }
  }

  /**
   * The bake fails (its second layer's input changes) while the first layer's upload is held by the
   * registry: the bake ends without waiting for it, and once the registry answers, the upload's
   * thread ends; no manifest is put.
   */
  @Test
  void aBakeThatEndsWhileAnUploadIsHeldDoesNotWaitForIt() throws Exception {
    Path first = tmp.resolve("first");
    StreamTesting.randomFile(first.resolve("a.bin"), 2 * MIB, 13);
    Path second = Files.createDirectories(tmp.resolve("second"));
    Path conf = Files.writeString(second.resolve("z.conf"), "mode=SAFE\n");
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("first").addTree(first, "/first"))
            .layer(Layer.files("second").addTree(second, "/second"));
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0);
        Kiln kiln = kiln(l -> l.name().equals("second") ? heldThenEdit(proxy, l, conf) : l)) {
      // the first layer is smaller than a part: it goes up whole with the PUT that completes it
      proxy.holdUntil(
          s -> s.method().equals("PUT") && s.path().contains("digest="),
          1000,
          Duration.ofMinutes(4));
      String target = "docker://" + proxy.host() + "/kiln/held:1";
      Throwable t = catchThrowable(() -> kiln.bake(build, target));
      assertThat(t).isInstanceOf(BakeException.class).hasMessageContaining("z.conf");
      // the bake ended while the first layer's upload still waits for the registry
      assertThat(StreamTesting.streamThreads()).isNotEmpty();
      assertThat(StreamTesting.manifest(registry.host(), "kiln/held", "1")).isEmpty();
      proxy.release();
      StreamTesting.joinStreamThreads();
      assertThat(StreamTesting.manifest(registry.host(), "kiln/held", "1")).isEmpty();
    }
  }

  /**
   * Once the registry holds a part of the first layer's upload, appends to {@code file}: the second
   * layer's write then fails while that upload waits for the registry.
   */
  private static LayerInProgress heldThenEdit(FaultyProxy proxy, LayerInProgress layer, Path file) {
    try {
      while (proxy.mostInFlight() < 1) {
        Thread.sleep(10);
      }
      Files.writeString(file, "mode=EVIL\n", StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    return layer;
  }

  /** Appends to {@code file} the first time a layer is written: its write then fails. */
  private static LayerInProgress editOnce(LayerInProgress layer, Path file, AtomicBoolean edited) {
    if (edited.compareAndSet(false, true)) {
      try {
        Files.writeString(file, "mode=EVIL\n", StandardOpenOption.APPEND);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return layer;
  }

  /** The layer as it is written, with its 101st byte changed in what the store reads. */
  private static LayerInProgress flipByte100(LayerInProgress layer) {
    return new ForwardingLayer(layer) {
      @Override
      public InputStream openBlob() throws IOException {
        return new FlippedByte(layer.openBlob(), 100, 1);
      }
    };
  }

  private static String enc(Digest d) {
    return d.toString().replace(":", "%3A");
  }

  /** The tag names the image, every blob of it is there with the right bytes. */
  private static void assertExact(BakeResult r, String repo, String tag) throws Exception {
    Optional<JsonNode> m = StreamTesting.manifest(registry.host(), repo, tag);
    assertThat(m).isPresent();
    List<Digest> blobs = StreamTesting.blobsOf(m.get());
    assertThat(blobs.subList(1, blobs.size()))
        .containsExactlyElementsOf(r.layers().stream().map(LayerRecord::digest).toList());
    for (Digest d : blobs) {
      assertThat(StreamTesting.headBlob(registry.host(), repo, d)).isPresent();
      assertThat(StreamTesting.servedDigest(registry.host(), repo, d)).isEqualTo(d);
    }
    String skopeo = Tools.require("skopeo", "skopeo");
    String inspect =
        Tools.run(
                skopeo,
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                "docker://" + registry.host() + "/" + repo + ":" + tag)
            .ok()
            .output()
            .strip();
    assertThat(inspect).isEqualTo(r.digest().toString());
  }
}
