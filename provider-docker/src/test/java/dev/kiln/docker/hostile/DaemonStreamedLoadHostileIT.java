package dev.kiln.docker.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.docker.DockerDaemonStore;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageTars;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerInProgress;
import dev.kiln.spi.PublishContext;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The load into the daemon that starts while the bake writes the layers, when things go wrong: a
 * layer's tar that changes while it is streamed is caught and the image is loaded again, exactly; a
 * layer whose write fails half-way aborts the load (no image, the tag stays where it was); an image
 * the daemon has already is not loaded, and the load started for it is abandoned. In every case the
 * load's threads end. Against the real Docker engine, through a store that wraps {@code
 * docker-daemon:} and tampers with what the bake hands it.
 */
class DaemonStreamedLoadHostileIT {
  private static final String REPO = "kiln-it-streamhostile/img";

  @TempDir Path tmp;

  private String docker;
  private String image;
  private Path rootfs;
  private final List<BakeEvent> events = new CopyOnWriteArrayList<>();
  private final List<String> extraImages = new ArrayList<>();

  /** What the tampering store does to the layer named "data" when the bake starts writing it. */
  private volatile Consumer<LayerInProgress> beforeData = l -> {};

  /** Wraps the "data" layer the store sees; identity by default. */
  private volatile java.util.function.UnaryOperator<LayerInProgress> wrapData = l -> l;

  /** Wraps the image whose tars are written, as the store sees it; identity by default. */
  private volatile java.util.function.UnaryOperator<ImageTars> wrapTars = t -> t;

  /** Makes the publication fail, as a bake that fails after its layers went in. */
  private volatile boolean refusePublish;

  @BeforeEach
  void setUp() throws Exception {
    docker = Tools.requireDocker();
    String t = Long.toHexString(new Random().nextLong() & Long.MAX_VALUE);
    image = REPO + ":t" + t;
    // a base layer of its own: the daemon lacks it whatever other tests loaded
    rootfs = Busybox.rootfsMarked(tmp, image);
  }

  @AfterEach
  void removeImages() {
    Tools.run(docker, "rmi", "-f", image);
    for (String i : extraImages) {
      Tools.run(docker, "rmi", "-f", i);
    }
  }

  private static byte[] data(long seed) {
    byte[] b = new byte[4 << 20];
    new Random(seed).nextBytes(b);
    return b;
  }

  private ImageBuild build(byte[] big) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(Layer.files("data").content("/data/big.bin", big, 0644))
        .config(c -> c.entrypoint("/bin/sh", "-c"));
  }

  private BakeResult bake(Path store, ImageBuild build, String ref) throws Exception {
    try (Kiln k =
        Kiln.builder().store(store).listener(events::add).imageStores(new Tampering()).build()) {
      return k.bake(build, "tamper-daemon:" + ref);
    }
  }

  /** What {@code Kiln.bakeEarly} returned, and the whole result it gave after. */
  private record Early(dev.kiln.EarlyBake returned, BakeResult result) {}

  private Early bakeEarly(Path store, ImageBuild build, String ref) throws Exception {
    try (Kiln k =
        Kiln.builder().store(store).listener(events::add).imageStores(new Tampering()).build()) {
      dev.kiln.EarlyBake e = k.bakeEarly(build, "tamper-daemon:" + ref);
      return new Early(e, e.await());
    }
  }

  @Test
  void anEarlyBakeNamesOnlyWhatTheDaemonTookWhenATarChangesWhileItIsStreamed() throws Exception {
    byte[] big = data(29);
    wrapData = l -> new FlippedTar(l, (3L << 20) + 17);
    Early e = bakeEarly(tmp.resolve("store"), build(big), image);
    // named early only from a load the daemon took whole (the data layer from its stored blob),
    // else loaded by the publication once it caught the change; either way the image
    assertThat(e.returned().imageId()).isEqualTo(e.result().configDigest());
    if (e.returned().returnedEarly()) {
      assertThat(warnings()).isEmpty();
    } else {
      assertThat(warnings())
          .singleElement()
          .asString()
          .contains("started while its layers were written failed");
    }
    assertDaemonHolds(image, e.result(), big);
    assertLoadThreadsEnded();
  }

  @Test
  void anEarlyBakeWhoseLayerFailsHalfWayThrowsAndMovesNoTag() throws Exception {
    checkALayerWriteFailingHalfWay(30, true);
  }

  @Test
  void anImageAStoreNamedEarlyThatIsNotTheOneAssembledIsReplacedByThePublication()
      throws Exception {
    // a store offered, with leave to name it, a config other than the one the bake assembles (as
    // if a layer changed after its tar was written) loads and names that one; the publication
    // then loads the image the bake assembled and moves the tag to it
    List<Digest> offered = new CopyOnWriteArrayList<>();
    wrapTars =
        t -> {
          ImageTars other = new OtherConfig(t, true);
          offered.add(other.configDigest());
          return other;
        };
    byte[] big = data(32);
    Early e = bakeEarly(tmp.resolve("store"), build(big), image);
    assertThat(offered).singleElement().isNotEqualTo(e.result().configDigest());
    extraImages.add(offered.get(0).toString());
    assertThat(e.returned().returnedEarly()).isTrue();
    assertThat(e.returned().imageId()).isEqualTo(e.result().configDigest());
    assertThat(warnings())
        .singleElement()
        .asString()
        .contains("the daemon loaded " + offered.get(0))
        .contains("loading it once more");
    assertThat(e.result().published().get("tamper-daemon:" + image).details())
        .containsEntry("loadedEarly", "false");
    assertDaemonHolds(image, e.result(), big);
    assertLoadThreadsEnded();
  }

  @Test
  void aTarChangedWhileItIsStreamedIsCaughtAndTheImageIsLoadedAgainExactly() throws Exception {
    byte[] big = data(21);
    // another writer changes one byte of the layer's tar file after the bake wrote it; the load
    // is finished only by the publication, which checks every streamed tar against its diffID
    wrapData = l -> new FlippedTar(l, (3L << 20) + 17);
    System.setProperty(DockerDaemonStore.EARLY_PROPERTY, "false");
    BakeResult r;
    try {
      r = bake(tmp.resolve("store"), build(big), image);
    } finally {
      System.clearProperty(DockerDaemonStore.EARLY_PROPERTY);
    }
    PublishedImage p = r.published().get("tamper-daemon:" + image);
    // the base layer was streamed as well, but the load it was in could not be finished
    assertThat(p.details())
        .containsEntry("layersStreamed", "0")
        .containsEntry("layersSent", "2")
        .containsEntry("layersFromTars", "2");
    assertThat(warnings())
        .singleElement()
        .asString()
        .contains("started while its layers were written failed")
        .contains("layer 'data'")
        .contains(r.layers().get(1).diffId().toString());
    assertDaemonHolds(image, r, big);
    assertLoadThreadsEnded();
  }

  @Test
  void aTarChangedWhileItIsStreamedIsNeverWhatTheDaemonTakesWhenTheLoadIsFinishedEarly()
      throws Exception {
    byte[] big = data(28);
    wrapData = l -> new FlippedTar(l, (3L << 20) + 17);
    BakeResult r = bake(tmp.resolve("store"), build(big), image);
    PublishedImage p = r.published().get("tamper-daemon:" + image);
    if (warnings().isEmpty()) {
      // finished early: the data layer's blob was stored by then and went in from it, the
      // changed tar is in the archive but no layer of the manifest
      assertThat(p.details())
          .containsEntry("loadedEarly", "true")
          .containsEntry("layersStreamed", "1")
          .containsEntry("layersFromTars", "1");
    } else {
      // the blob was not stored yet: the publication finished the load and caught the change
      assertThat(p.details()).containsEntry("loadedEarly", "false");
      assertThat(warnings())
          .singleElement()
          .asString()
          .contains("started while its layers were written failed");
    }
    assertDaemonHolds(image, r, big);
    assertLoadThreadsEnded();
  }

  @Test
  void aLayerWriteThatFailsHalfWayAbortsTheLoadAndMovesNoTag() throws Exception {
    checkALayerWriteFailingHalfWay(22, false);
  }

  /**
   * A files layer whose input grows once its tar is being written fails the bake ({@code bakeEarly}
   * when {@code early}), which aborts the load and leaves the tag where it was.
   */
  private void checkALayerWriteFailingHalfWay(long seed, boolean early) throws Exception {
    byte[] big = data(seed);
    BakeResult before = bake(tmp.resolve("store"), build(big), image);
    Path note = tmp.resolve("note.txt");
    Files.writeString(note, "first");
    ImageBuild edited =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(
                Layer.files("data")
                    .content("/data/big.bin", data(seed + 1), 0644) // written before the note
                    .add(note, "/data/note.txt"))
            .config(c -> c.entrypoint("/bin/sh", "-c"));
    // the note grows once the layer's tar is being written: the writer fails on it
    beforeData =
        l -> {
          try {
            Files.writeString(note, " and more", StandardOpenOption.APPEND);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        };
    events.clear();
    assertThatThrownBy(
            () -> {
              if (early) {
                bakeEarly(tmp.resolve("store"), edited, image);
              } else {
                bake(tmp.resolve("store"), edited, image);
              }
            })
        .isInstanceOf(BakeException.class)
        .hasMessageContaining("note.txt");
    assertLoadThreadsEnded();
    // the tag is where it was, and the daemon holds no image of the repository besides it
    assertThat(Tools.run(docker, "image", "inspect", "--format", "{{.Id}}", image).ok().output())
        .isEqualToIgnoringWhitespace(before.configDigest().toString());
    assertThat(repositoryImages()).containsExactly(before.configDigest().toString());
    assertThat(warnings()).isEmpty();
  }

  @Test
  void anImageTheDaemonHoldsIsNotLoadedAndTheLoadStartedForItIsAbandoned() throws Exception {
    byte[] big = data(24);
    BakeResult first = bake(tmp.resolve("store"), build(big), image);
    assertThat(first.published().get("tamper-daemon:" + image).details())
        .containsEntry("layersStreamed", "2");

    // a fresh store writes every layer again (and starts a load), but the daemon has the image
    BakeResult again = bake(tmp.resolve("store2"), build(big), image);
    assertThat(again.provisioned()).hasSize(2);
    assertThat(again.configDigest()).isEqualTo(first.configDigest());
    assertThat(again.published().get("tamper-daemon:" + image).details())
        .containsEntry("layersSent", "0")
        .containsEntry("layersStreamed", "0");
    assertLoadThreadsEnded();

    // under another tag: only tagged
    String other = REPO + ":o" + Long.toHexString(new Random().nextLong() & Long.MAX_VALUE);
    extraImages.add(other);
    BakeResult tagged = bake(tmp.resolve("store3"), build(big), other);
    assertThat(tagged.provisioned()).hasSize(2);
    assertThat(tagged.published().get("tamper-daemon:" + other).details())
        .containsEntry("layersSent", "0")
        .containsEntry("layersStreamed", "0");
    assertThat(Tools.run(docker, "image", "inspect", "--format", "{{.Id}}", other).ok().output())
        .isEqualToIgnoringWhitespace(first.configDigest().toString());
    assertThat(warnings()).isEmpty();
    assertLoadThreadsEnded();
  }

  @Test
  void anImageLoadedWhileItsBlobsAreCompressedIsNamedOnlyOnceTheBakeSucceeds() throws Exception {
    Path store = tmp.resolve("store");
    BakeResult before = bake(store, build(data(25)), image);
    assertThat(before.published().get("tamper-daemon:" + image).details())
        .containsEntry("loadedEarly", "true");

    // the bake fails after the daemon took the image (its layers' tars were written before the
    // publication): the tag stays where it was
    byte[] big = data(26);
    refusePublish = true;
    assertThatThrownBy(() -> bake(store, build(big), image))
        .isInstanceOf(BakeException.class)
        .hasMessageContaining("refused by the test");
    assertLoadThreadsEnded();
    assertThat(Tools.run(docker, "image", "inspect", "--format", "{{.Id}}", image).ok().output())
        .isEqualToIgnoringWhitespace(before.configDigest().toString());
    assertThat(repositoryImages()).containsExactly(before.configDigest().toString());

    // the next bake finds the image the failed one loaded without a name, and names it
    refusePublish = false;
    events.clear();
    BakeResult again = bake(store, build(big), image);
    assertThat(again.provisioned()).isEmpty();
    assertThat(again.published().get("tamper-daemon:" + image).details())
        .containsEntry("layersSent", "0")
        .containsEntry("loadedEarly", "false");
    assertThat(warnings()).isEmpty();
    assertDaemonHolds(image, again, big);
    Tools.run(docker, "rmi", "-f", before.configDigest().toString());
  }

  @Test
  void aConfigOfferedEarlyThatIsNotTheImagesIsNotNamedAndTheImageIsLoadedAgain() throws Exception {
    // the store is offered a config other than the one the bake assembles (as if a layer had
    // changed after its tar was written): the daemon loads that one, unnamed, and the publication
    // loads the image the bake assembled
    List<Digest> offered = new CopyOnWriteArrayList<>();
    wrapTars =
        t -> {
          ImageTars other = new OtherConfig(t);
          offered.add(other.configDigest());
          return other;
        };
    byte[] big = data(27);
    BakeResult r = bake(tmp.resolve("store"), build(big), image);
    assertThat(offered).singleElement().isNotEqualTo(r.configDigest());
    extraImages.add(offered.get(0).toString());
    assertThat(r.published().get("tamper-daemon:" + image).details())
        .containsEntry("loadedEarly", "false")
        .containsEntry("layersSent", "2");
    assertThat(warnings())
        .singleElement()
        .asString()
        .contains("the daemon loaded " + offered.get(0))
        .contains("loading it once more");
    assertDaemonHolds(image, r, big);
    // the image loaded early is in the daemon, with no name
    assertThat(
            Tools.run(
                    docker,
                    "image",
                    "inspect",
                    "--format",
                    "{{json .RepoTags}}",
                    offered.get(0).toString())
                .ok()
                .output()
                .strip())
        .isEqualTo("[]");
    assertLoadThreadsEnded();
  }

  /** The image whose tars are written, with an author in its config that the image has not. */
  private static final class OtherConfig extends ForwardingTars {
    private final byte[] config;
    private final boolean naming;

    OtherConfig(ImageTars t) {
      this(t, false);
    }

    /** With {@code naming}, the bake's consent to name the image early is passed on. */
    OtherConfig(ImageTars t, boolean naming) {
      super(t);
      this.naming = naming;
      try {
        com.fasterxml.jackson.databind.node.ObjectNode n =
            (com.fasterxml.jackson.databind.node.ObjectNode)
                new com.fasterxml.jackson.databind.ObjectMapper().readTree(t.config());
        n.put("author", "someone else");
        this.config = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(n);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public byte[] config() {
      return config.clone();
    }

    @Override
    public Digest configDigest() {
      return Digest.of(config);
    }

    @Override
    public java.util.concurrent.CompletionStage<Boolean> mayName() {
      return naming
          ? tars.mayName()
          : java.util.concurrent.CompletableFuture.completedFuture(false);
    }

    @Override
    public void named(String target) {
      if (naming) {
        tars.named(target);
      }
    }
  }

  /** The image whose tars are written, as the bake offers it, named early as {@code target}. */
  private static final class NamedAs extends ForwardingTars {
    private final String target;

    NamedAs(ImageTars t, String target) {
      super(t);
      this.target = target;
    }

    @Override
    public void named(String ignored) {
      tars.named(target); // the daemon store inside names itself docker-daemon:
    }
  }

  /** The ids of the images named in this test's repository. */
  private List<String> repositoryImages() {
    return Tools.run(docker, "images", "--no-trunc", "-q", "--filter", "reference=" + REPO + ":*")
        .ok()
        .output()
        .lines()
        .distinct()
        .toList();
  }

  private List<String> warnings() {
    return events.stream()
        .filter(e -> e instanceof BakeEvent.Warning)
        .map(e -> ((BakeEvent.Warning) e).message())
        .toList();
  }

  /** The threads of the loads this test started end (a hung load would be a leak). */
  private void assertLoadThreadsEnded() throws InterruptedException {
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("kiln-daemon-") && t.getName().contains(REPO)) {
        t.join(60_000); // a guard against a hang, not a measure
        assertThat(t.isAlive()).as(t.getName() + " still runs").isFalse();
      }
    }
  }

  /** The daemon's {@code ref} is the image: id, layer diffIDs, the file's content. */
  private void assertDaemonHolds(String ref, BakeResult r, byte[] big) {
    DaemonImages.assertTagged(docker, ref, r);
    assertThat(Tools.run(docker, "run", "--rm", ref, "sha256sum /data/big.bin").ok().output())
        .startsWith(Digest.of(big).hex());
  }

  /** {@code tamper-daemon:NAME:TAG}: {@code docker-daemon:NAME:TAG}, tampering with "data". */
  private final class Tampering implements ImageStoreProvider {
    @Override
    public Set<String> schemes() {
      return Set.of("tamper-daemon");
    }

    @Override
    public ImageStore create(Target target) {
      String ref = target.toString().substring("tamper-daemon:".length());
      DockerDaemonStore d = new DockerDaemonStore(Target.parse("docker-daemon:" + ref));
      return new ImageStore() {
        @Override
        public Optional<PublishedImage> find(ImageView image, PublishContext ctx)
            throws BakeException {
          return d.find(image, ctx);
        }

        @Override
        public boolean readsUncompressedLayers() {
          return true;
        }

        @Override
        public void layerWriting(LayerInProgress layer, PublishContext ctx) {
          if (layer.name().equals("data")) {
            d.layerWriting(wrapData.apply(layer), ctx);
            beforeData.accept(layer);
          } else {
            d.layerWriting(layer, ctx);
          }
        }

        @Override
        public void imageTarsWritten(ImageTars tars, PublishContext ctx) {
          d.imageTarsWritten(wrapTars.apply(new NamedAs(tars, target.toString())), ctx);
        }

        @Override
        public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
          if (refusePublish) {
            throw new BakeException("publication refused by the test");
          }
          return d.publish(image, ctx);
        }
      };
    }
  }

  /** A layer whose tar, as read while it is written, has one byte changed. */
  private static final class FlippedTar extends ForwardingLayer {
    private final long at;

    FlippedTar(LayerInProgress layer, long at) {
      super(layer);
      this.at = at;
    }

    @Override
    public Optional<Tar> tar() {
      return layer
          .tar()
          .map(
              t ->
                  new Tar() {
                    @Override
                    public long size() {
                      return t.size();
                    }

                    @Override
                    public InputStream open() throws IOException {
                      return new FlippedByte(t.open(), at, 0x5a);
                    }
                  });
    }
  }
}
