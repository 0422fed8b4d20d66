package dev.kiln.early;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.EarlyBake;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageTars;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import dev.kiln.spi.PublishContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Kiln.bakeEarly}: the bake returns once every target named the image, before it is
 * assembled, when every target reads layers uncompressed and names it early ({@code ImageTars});
 * the store catches up on a thread of the Kiln, whose result is the whole bake's, failures
 * included, and {@code close()} waits for it. Other targets get the whole result at once.
 */
class EarlyBakeTest {
  @TempDir Path dir;

  /** What the probe target did, in order, with the bake's events. */
  private final List<String> seen = new CopyOnWriteArrayList<>();

  /** Released by the test: until then the bake stops at the image's assembly. */
  private final CountDownLatch assemble = new CountDownLatch(1);

  private volatile boolean holdAssembly;
  private volatile boolean names = true;
  private volatile boolean failPublish;

  private static ImageBuild build(int seed) {
    byte[] data = new byte[400_000];
    new Random(seed).nextBytes(data);
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("data").content("/data.bin", data, 0644))
        .layer(Layer.files("app").content("/app/v", new byte[] {'1'}, 0644));
  }

  /** A target that reads layers uncompressed and names the image as soon as it may. */
  private ImageStoreProvider probe() {
    return new ImageStoreProvider() {
      @Override
      public Set<String> schemes() {
        return Set.of("probe");
      }

      @Override
      public ImageStore create(Target target) {
        return new ImageStore() {
          @Override
          public boolean readsUncompressedLayers() {
            return true;
          }

          @Override
          public void imageTarsWritten(ImageTars image, PublishContext ctx) {
            image
                .mayName()
                .thenAccept(
                    may -> {
                      seen.add("may-name " + may);
                      if (may && names) {
                        seen.add("named " + image.configDigest());
                        image.named(target.toString());
                      }
                    });
          }

          @Override
          public Optional<PublishedImage> find(ImageView image, PublishContext ctx) {
            return Optional.empty();
          }

          @Override
          public PublishedImage publish(ImageView image, PublishContext ctx)
              throws ImageStoreException {
            seen.add("published " + image.configDigest());
            if (failPublish) {
              throw new ImageStoreException(target.toString(), "the probe refuses the image");
            }
            return new PublishedImage(target.toString(), image.digest(), false, Map.of());
          }
        };
      }
    };
  }

  private Kiln kiln(String store) throws IOException {
    return kiln(store, null);
  }

  private Kiln kiln(String store, Provisioner provisioner) throws IOException {
    Kiln.Builder b = Kiln.builder();
    if (provisioner != null) {
      b.provisioner(provisioner);
    }
    return b.store(dir.resolve(store))
        .imageStores(probe())
        .listener(
            e -> {
              if (e instanceof BakeEvent.LayerProvisioned p) {
                seen.add("provisioned " + p.layer());
              }
              if (e instanceof BakeEvent.ImageAssembled && holdAssembly) {
                try {
                  assemble.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException ex) {
                  Thread.currentThread().interrupt();
                }
              }
            })
        .build();
  }

  private long records(String store) throws IOException {
    Path images = dir.resolve(store).resolve("images");
    if (!Files.isDirectory(images)) {
      return 0;
    }
    try (Stream<Path> s = Files.walk(images)) {
      return s.filter(Files::isRegularFile).count();
    }
  }

  @Test
  void returnsOnceTheTargetNamedTheImageAndTheStoreCatchesUpAfter() throws Exception {
    holdAssembly = true;
    BakeResult plain;
    try (Kiln k = kiln("plain")) {
      holdAssembly = false;
      plain = k.bake(build(1), "probe:x");
      holdAssembly = true;
    }
    seen.clear();
    try (Kiln k = kiln("store")) {
      EarlyBake e = k.bakeEarly(build(1), "probe:x");
      assertThat(e.returnedEarly()).isTrue();
      assertThat(e.isDone()).as("the image is not assembled yet").isFalse();
      assertThat(e.imageId()).isEqualTo(plain.configDigest());
      assertThat(e.targets()).containsExactly("probe:x");
      assertThat(seen)
          .contains("named " + plain.configDigest())
          .noneMatch(s -> s.startsWith("published"));
      assertThat(records("store")).as("no image record before the store caught up").isZero();
      assemble.countDown();
      BakeResult r = e.await();
      assertThat(r.digest()).as("the same image as a bake that waits").isEqualTo(plain.digest());
      assertThat(r.configDigest()).isEqualTo(e.imageId());
      assertThat(r.provisioned()).containsExactly("data", "app");
      assertThat(r.published()).containsKey("probe:x");
      assertThat(r.record()).exists();
      assertThat(e.result().toCompletableFuture().join()).isEqualTo(r);
    }
    try (Kiln k = kiln("store")) {
      BakeResult again = k.bake(build(1), "probe:x");
      assertThat(again.provisioned()).as("every key committed with its blob").isEmpty();
      assertThat(again.digest()).isEqualTo(plain.digest());
    }
  }

  /**
   * A provisioner of {@code tar} layers that checks something after its writer finished, as a
   * {@code run} layer checks its inputs after the container ran: it writes one file, then notes
   * "checked" a while later, or fails there.
   */
  private Provisioner checksAfterWriting(boolean fails) {
    return new Provisioner() {
      @Override
      public String kind() {
        return "tar";
      }

      @Override
      public PreparedLayer prepare(Layer layer, KeyContext context) {
        return new PreparedLayer() {
          @Override
          public void fingerprint(Fingerprint fingerprint) {
            fingerprint.put("checks-after-writing", fails ? "fails" : "passes");
          }

          @Override
          public LayerBlob provision(ProvisionContext pc) throws BakeException {
            LayerBlob blob;
            try (LayerWriter w = pc.newLayerWriter()) {
              w.add(LayerEntry.file("/checked.txt", 0644, new byte[] {'c'}));
              blob = w.finish();
            } catch (IOException e) {
              throw new ProvisioningException("late", e.getMessage(), e);
            }
            try {
              Thread.sleep(300);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            if (fails) {
              seen.add("check failed");
              throw new ProvisioningException("late", "an input changed while the layer ran");
            }
            seen.add("checked");
            return blob;
          }
        };
      }
    };
  }

  private ImageBuild withLateCheck(int seed) {
    return build(seed).layer(Layer.tar(dir.resolve("unread.tar")));
  }

  @Test
  void aLayerThatChecksAfterWritingIsNamedOnlyOnceItIsProvisioned() throws Exception {
    holdAssembly = true;
    try (Kiln k = kiln("store", checksAfterWriting(false))) {
      EarlyBake e = k.bakeEarly(withLateCheck(2), "probe:x");
      assertThat(e.returnedEarly()).isTrue();
      assemble.countDown();
      e.await();
    }
    assertThat(seen).contains("checked", "may-name true");
    assertThat(seen.indexOf("checked"))
        .as("the image may be named only once the layer passed its late check")
        .isLessThan(seen.indexOf("may-name true"));
  }

  @Test
  void aLayerThatFailsAfterWritingIsNeverNamedAndTheBakeThrows() throws Exception {
    try (Kiln k = kiln("store", checksAfterWriting(true))) {
      assertThatThrownBy(() -> k.bakeEarly(withLateCheck(3), "probe:x"))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining("an input changed while the layer ran");
    }
    assertThat(seen).contains("check failed").noneMatch(s -> s.startsWith("named"));
  }

  /** A tarball of one file, {@code /t.txt} holding {@code text}. */
  private static void tarball(Path file, String text) throws IOException {
    byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    try (org.apache.commons.compress.archivers.tar.TarArchiveOutputStream out =
        new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(
            Files.newOutputStream(file))) {
      org.apache.commons.compress.archivers.tar.TarArchiveEntry e =
          new org.apache.commons.compress.archivers.tar.TarArchiveEntry("t.txt");
      e.setSize(b.length);
      out.putArchiveEntry(e);
      out.write(b);
      out.closeArchiveEntry();
    }
  }

  @Test
  void aTarballChangedAfterItWasHashedIsNeverNamed() throws Exception {
    // a tar layer is final once written because the tarball's digest is checked before the writer
    // finishes: a tarball changed between its hash and its copy fails before any tar is written
    Path tar = dir.resolve("layer.tar");
    tarball(tar, "as hashed");
    try (Kiln k =
        Kiln.builder()
            .store(dir.resolve("store"))
            .imageStores(probe())
            .listener(
                e -> {
                  if (e instanceof BakeEvent.LayerStarted s && s.layer().equals("t")) {
                    try {
                      tarball(tar, "changed after its hash");
                    } catch (IOException ex) {
                      throw new java.io.UncheckedIOException(ex);
                    }
                  }
                })
            .build()) {
      ImageBuild b = build(9).layer(Layer.tar(tar).named("t"));
      assertThatThrownBy(() -> k.bakeEarly(b, "probe:x"))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining("changed after it was hashed");
    }
    assertThat(seen).noneMatch(s -> s.startsWith("named"));
  }

  @Test
  void aFailureAfterTheTargetsNamedTheImageIsTheResults() throws Exception {
    holdAssembly = true;
    failPublish = true;
    EarlyBake e;
    try (Kiln k = kiln("store")) {
      e = k.bakeEarly(build(4), "probe:x");
      assertThat(e.returnedEarly()).isTrue();
      assemble.countDown();
      assertThatThrownBy(e::await)
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("the probe refuses the image");
    }
    assertThat(e.result().toCompletableFuture()).isCompletedExceptionally();
  }

  @Test
  void aFailureBeforeTheTargetsNamedTheImageIsThrown() throws Exception {
    try (Kiln k = kiln("store")) {
      ImageBuild b =
          ImageBuild.from(Base.scratch())
              .layer(Layer.files("missing").add(dir.resolve("no-such-dir"), "/x"));
      assertThatThrownBy(() -> k.bakeEarly(b, "probe:x")).isInstanceOf(BakeException.class);
    }
  }

  @Test
  void aTargetThatDoesNotNameTheImageGetsTheWholeResult() throws Exception {
    names = false;
    try (Kiln k = kiln("store")) {
      EarlyBake e = k.bakeEarly(build(5), "probe:x");
      assertThat(e.returnedEarly()).isFalse();
      assertThat(e.isDone()).isTrue();
      assertThat(e.imageId()).isEqualTo(e.await().configDigest());
      assertThat(seen).contains("may-name true").noneMatch(s -> s.startsWith("named"));
    }
  }

  @Test
  void otherTargetsAndNoTargetGetTheWholeResult() throws Exception {
    try (Kiln k = kiln("store")) {
      EarlyBake none = k.bakeEarly(build(6));
      assertThat(none.returnedEarly()).isFalse();
      assertThat(none.isDone()).isTrue();
      EarlyBake layout = k.bakeEarly(build(6), "oci:" + dir.resolve("layout") + ":v1");
      assertThat(layout.returnedEarly()).isFalse();
      assertThat(layout.await().published()).containsKey("oci:" + dir.resolve("layout") + ":v1");
      assertThat(seen).noneMatch(s -> s.startsWith("may-name"));
    }
  }

  @Test
  void aCallerInterruptedWhileItWaitsGetsAnErrorAndTheBakeEndsBeforeClose() throws Exception {
    names = false; // the call waits for the whole bake, held at the image's assembly
    holdAssembly = true;
    Kiln k = kiln("store");
    Thread caller = Thread.currentThread();
    Thread interrupter =
        new Thread(
            () -> {
              while (!seen.contains("may-name true")) {
                Thread.onSpinWait();
              }
              caller.interrupt();
            });
    interrupter.start();
    assertThatThrownBy(() -> k.bakeEarly(build(8), "probe:x"))
        .isInstanceOf(BakeException.class)
        .hasMessageContaining("interrupted");
    assertThat(Thread.interrupted()).as("the interrupt is kept").isTrue();
    interrupter.join();
    assemble.countDown();
    k.close();
    assertThat(seen).as("the bake went on to its end").contains("published " + configOf(8));
    try (Kiln again = kiln("store")) {
      assertThat(again.bake(build(8), "probe:x").provisioned()).isEmpty();
    }
  }

  /** The config digest of {@code build(seed)}, from a bake in a store of its own. */
  private Digest configOf(int seed) throws Exception {
    try (Kiln k = Kiln.builder().store(dir.resolve("config-" + seed)).build()) {
      return k.bake(build(seed)).configDigest();
    }
  }

  @Test
  void closeWaitsForTheBakeStillCatchingUp() throws Exception {
    holdAssembly = true;
    Kiln k = kiln("store");
    EarlyBake e = k.bakeEarly(build(7), "probe:x");
    assertThat(e.returnedEarly()).isTrue();
    Thread closer =
        new Thread(
            () -> {
              try {
                k.close();
              } catch (IOException ex) {
                throw new java.io.UncheckedIOException(ex);
              }
            });
    closer.start();
    closer.join(500);
    assertThat(closer.isAlive()).as("close() waits for the bake").isTrue();
    assertThat(e.isDone()).isFalse();
    assemble.countDown();
    closer.join(60_000);
    assertThat(closer.isAlive()).isFalse();
    assertThat(e.isDone()).isTrue();
    assertThat(e.await().record()).exists();
    Digest d = e.await().digest();
    try (Kiln again = kiln("store")) {
      assertThat(again.bake(build(7), "probe:x").digest()).isEqualTo(d);
    }
  }
}
