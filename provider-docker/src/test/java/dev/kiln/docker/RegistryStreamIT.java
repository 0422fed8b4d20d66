package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Layers streamed to Debian's docker-registry while they are compressed: the registry gets each
 * layer a bake writes in parts as it grows and checks it against its digest, publishing sends it no
 * second time, and the image is exact. A proxy in front of the registry records what was sent.
 */
class RegistryStreamIT {
  private static final int MIB = 1 << 20;

  @TempDir static Path shared;
  static LocalRegistry registry;

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

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aColdBakeStreamsItsLayersAndARebakeStreamsOnlyTheChangedOne(@TempDir Path tmp)
      throws Exception {
    Path base = tmp.resolve("base");
    StreamTesting.randomFile(base.resolve("base.bin"), 6 * MIB, 1);
    Path app = tmp.resolve("app");
    StreamTesting.randomFile(app.resolve("a.bin"), 6 * MIB, 2);
    StreamTesting.randomFile(app.resolve("b.bin"), 6 * MIB, 3);
    Files.writeString(app.resolve("version"), "1\n");
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("base").addTree(base, "/base"))
            .layer(Layer.files("app").addTree(app, "/app"));
    List<BakeEvent.BytesWritten> progress = new CopyOnWriteArrayList<>();
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0);
        Kiln kiln =
            Kiln.builder()
                .store(tmp.resolve("store"))
                .listener(
                    e -> {
                      if (e instanceof BakeEvent.BytesWritten b && b.subject().contains("/kiln/")) {
                        progress.add(b);
                      }
                    })
                .build()) {
      String target = "docker://" + proxy.host() + "/kiln/streamed:1";
      BakeResult r = kiln.bake(build, target);
      PublishedImage p = r.published().get(target);
      long layers = r.layers().stream().mapToLong(LayerRecord::size).sum();
      long config =
          StreamTesting.headBlob(registry.host(), "kiln/streamed", r.configDigest()).get();
      assertThat(p.details())
          .containsEntry("blobsStreamed", "2")
          .containsEntry("blobsUploaded", "3")
          .containsEntry("blobsSkipped", "0")
          .containsEntry("bytesUploaded", Long.toString(layers + config));
      assertThat(r.layers().get(1).size()).isGreaterThan(Registries.STREAM_PART);
      // the registry side: each layer went up in PATCH parts of at least STREAM_PART bytes as it
      // was written, the rest in the PUT that completed it with its digest (which the registry
      // checked); the config went up in one PUT, without a HEAD first (it names a new layer)
      List<FaultyProxy.Seen> seen = proxy.seen();
      long completed = 0;
      for (LayerRecord l : r.layers()) {
        String digest = "digest=" + RegistryClient.enc(l.digest().toString());
        List<FaultyProxy.Seen> puts =
            seen.stream()
                .filter(s -> s.method().equals("PUT") && s.path().endsWith(digest))
                .toList();
        assertThat(puts).hasSize(1);
        completed += puts.get(0).bodyBytes();
      }
      List<FaultyProxy.Seen> patches =
          seen.stream().filter(s -> s.method().equals("PATCH")).toList();
      assertThat(patches).allMatch(s -> s.bodyBytes() >= Registries.STREAM_PART);
      assertThat(patches.stream().mapToLong(s -> s.bodyBytes()).sum() + completed)
          .isEqualTo(layers);
      assertThat(seen)
          .noneMatch(
              s -> s.method().equals("HEAD") && s.path().endsWith(r.configDigest().toString()));
      assertThat(seen)
          .anyMatch(
              s ->
                  s.method().equals("PUT")
                      && s.path()
                          .endsWith("digest=" + RegistryClient.enc(r.configDigest().toString()))
                      && s.bodyBytes() == config);
      assertExact(r, "kiln/streamed", "1");
      assertThat(progress).isNotEmpty();
      assertThat(progress.get(progress.size() - 1).done()).isEqualTo(layers + config);

      // one file changed: the app layer is written again (from the chunks it shares with its
      // previous version) and streamed; the base layer is a cache hit, which the registry has
      Files.writeString(app.resolve("version"), "2\n");
      int before = proxy.seen().size();
      String second = "docker://" + proxy.host() + "/kiln/streamed:2";
      BakeResult r2 = kiln.bake(build, second);
      assertThat(r2.layers().get(0).digest()).isEqualTo(r.layers().get(0).digest());
      assertThat(r2.layers().get(1).digest()).isNotEqualTo(r.layers().get(1).digest());
      assertThat(r2.published().get(second).details())
          .containsEntry("blobsStreamed", "1")
          .containsEntry("blobsUploaded", "2")
          .containsEntry("blobsSkipped", "1");
      List<FaultyProxy.Seen> seen2 = proxy.seen().subList(before, proxy.seen().size());
      long size2 = r2.layers().get(1).size();
      String digest2 = "digest=" + RegistryClient.enc(r2.layers().get(1).digest().toString());
      long put2 =
          seen2.stream()
              .filter(s -> s.method().equals("PUT") && s.path().endsWith(digest2))
              .mapToLong(s -> s.bodyBytes())
              .sum();
      assertThat(
              seen2.stream()
                      .filter(s -> s.method().equals("PATCH"))
                      .mapToLong(s -> s.bodyBytes())
                      .sum()
                  + put2)
          .isEqualTo(size2);
      assertExact(r2, "kiln/streamed", "2");
    }
    StreamTesting.joinStreamThreads();
  }

  /**
   * The registry fails a part once (500): the part goes again from where the registry says the
   * upload is ({@code GET} of the upload's {@code Range}), and the layer is still streamed.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aPartThatFailsOnceIsSentAgainAndTheLayerStillStreams(@TempDir Path tmp) throws Exception {
    ImageBuild build = randomLayer(tmp, 20 * MIB, 4); // two parts and a last one
    int[] patches = {0};
    try (AutoCloseable parts = StreamTesting.partSizes(MIB, 4 * MIB);
        FaultyProxy proxy =
            new FaultyProxy(
                registry.host(), s -> s.method().equals("PATCH") && secondPatch(patches), 1);
        Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      String target = "docker://" + proxy.host() + "/kiln/streamed-retry:1";
      BakeResult r = kiln.bake(build, target);
      assertThat(proxy.failures()).isEqualTo(1);
      long layer = r.layers().get(0).size();
      long config =
          StreamTesting.headBlob(registry.host(), "kiln/streamed-retry", r.configDigest()).get();
      // the second part went twice
      long failed =
          proxy.seen().stream().filter(s -> s.failed()).mapToLong(s -> s.bodyBytes()).sum();
      assertThat(failed).isBetween((long) MIB, 4L * MIB);
      assertThat(r.published().get(target).details())
          .containsEntry("blobsStreamed", "1")
          .containsEntry("blobsUploaded", "2")
          .containsEntry("bytesUploaded", Long.toString(layer + config + failed));
      assertThat(proxy.seen())
          .anyMatch(s -> s.method().equals("GET") && s.path().contains("/blobs/uploads/"));
      assertExact(r, "kiln/streamed-retry", "1");
    }
    StreamTesting.joinStreamThreads();
  }

  /**
   * The registry fails the PUT that carries a layer's last part and completes the upload (500): the
   * part goes again as a PATCH from where the registry says the upload is, an empty PUT completes
   * it, and the layer is still streamed.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aLastPartWhosePutFailsIsSentAgainAndTheLayerStillStreams(@TempDir Path tmp)
      throws Exception {
    ImageBuild build = randomLayer(tmp, 3 * MIB, 5); // one part, sent with the PUT
    try (FaultyProxy proxy =
            new FaultyProxy(
                registry.host(),
                s ->
                    s.method().equals("PUT")
                        && s.path().contains("/blobs/uploads/")
                        && s.bodyBytes() > MIB, // the layer's, not the config's
                1);
        Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      String target = "docker://" + proxy.host() + "/kiln/streamed-last:1";
      BakeResult r = kiln.bake(build, target);
      assertThat(proxy.failures()).isEqualTo(1);
      LayerRecord layer = r.layers().get(0);
      String digest = "digest=" + RegistryClient.enc(layer.digest().toString());
      List<FaultyProxy.Seen> seen = proxy.seen();
      assertThat(seen)
          .anyMatch(
              s ->
                  s.failed()
                      && s.method().equals("PUT")
                      && s.path().endsWith(digest)
                      && s.bodyBytes() == layer.size());
      assertThat(seen).anyMatch(s -> s.method().equals("PATCH") && s.bodyBytes() == layer.size());
      assertThat(seen)
          .anyMatch(
              s ->
                  !s.failed()
                      && s.method().equals("PUT")
                      && s.path().endsWith(digest)
                      && s.bodyBytes() == 0);
      long config =
          StreamTesting.headBlob(registry.host(), "kiln/streamed-last", r.configDigest()).get();
      assertThat(r.published().get(target).details())
          .containsEntry("blobsStreamed", "1")
          .containsEntry("blobsUploaded", "2")
          .containsEntry("bytesUploaded", Long.toString(2 * layer.size() + config));
      assertExact(r, "kiln/streamed-last", "1");
    }
    StreamTesting.joinStreamThreads();
  }

  /**
   * A store that never pushed the image (a fresh machine) writes its layer again, which the
   * repository already holds: once the layer is written, the registry is asked for the blob and the
   * streamed upload is cancelled instead of sending the rest. Parts are held by the proxy, so most
   * of the layer is still unsent when it is written. The layer counts as skipped, the bytes sent
   * before the cancel as uploaded, and the image is exact.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aLayerTheRepositoryHoldsIsNotSentWholeAgainFromAnotherStore(@TempDir Path tmp)
      throws Exception {
    ImageBuild build = randomLayer(tmp, 24 * MIB, 7);
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0)) {
      BakeResult first;
      try (Kiln kiln = Kiln.builder().store(tmp.resolve("first")).build()) {
        first = kiln.bake(build, "docker://" + proxy.host() + "/kiln/streamed-again:1");
      }
      int before = proxy.seen().size();
      proxy.holdUntil(s -> s.method().equals("PATCH"), Integer.MAX_VALUE, Duration.ofSeconds(2));
      String target = "docker://" + proxy.host() + "/kiln/streamed-again:2";
      BakeResult again;
      try (AutoCloseable parts = StreamTesting.partSizes(MIB, 2 * MIB);
          Kiln kiln = Kiln.builder().store(tmp.resolve("second")).build()) {
        again = kiln.bake(build, target);
      }
      LayerRecord l = again.layers().get(0);
      assertThat(l.digest()).isEqualTo(first.layers().get(0).digest());
      List<FaultyProxy.Seen> seen = proxy.seen().subList(before, proxy.seen().size());
      String layerPut = "digest=" + RegistryClient.enc(l.digest().toString());
      assertThat(seen).noneMatch(s -> s.method().equals("PUT") && s.path().endsWith(layerPut));
      assertThat(seen)
          .anyMatch(s -> s.method().equals("HEAD") && s.path().endsWith("/blobs/" + l.digest()));
      assertThat(seen).anyMatch(s -> s.method().equals("DELETE"));
      long partBytes =
          seen.stream()
              .filter(s -> s.method().equals("PATCH"))
              .mapToLong(FaultyProxy.Seen::bodyBytes)
              .sum();
      assertThat(partBytes).isLessThan(l.size() / 2);
      long config =
          StreamTesting.headBlob(registry.host(), "kiln/streamed-again", again.configDigest())
              .get();
      assertThat(again.published().get(target).details())
          .containsEntry("blobsStreamed", "0")
          .containsEntry("blobsSkipped", "1")
          .containsEntry("blobsUploaded", "1")
          .containsEntry("bytesUploaded", Long.toString(partBytes + config));
      assertExact(again, "kiln/streamed-again", "2");
    }
    StreamTesting.joinStreamThreads();
  }

  /**
   * Two tags of one repository in one bake (a version and {@code latest}): the layer is streamed
   * once and the config uploaded once; the other tag's push waits for those uploads and skips the
   * blobs. Both tags name the exact image.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void twoTagsOfOneRepositorySendEachBlobOnce(@TempDir Path tmp) throws Exception {
    bakeToTwo(
        tmp,
        8,
        "kiln/streamed-tags:1.0",
        "kiln/streamed-tags:latest",
        totals -> {
          assertThat(totals.applyAsInt("blobsStreamed")).isEqualTo(1);
          assertThat(totals.applyAsInt("blobsUploaded")).isEqualTo(2);
          assertThat(totals.applyAsInt("blobsSkipped")).isEqualTo(2);
        });
  }

  /**
   * Two repositories of one registry in one bake: the layer is streamed to one of them and mounted
   * into the other once it is there, and so is the config; every byte goes up once, and each
   * repository names the exact image.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void twoRepositoriesOfOneRegistrySendEachBlobOnceAndMountIt(@TempDir Path tmp) throws Exception {
    bakeToTwo(
        tmp,
        9,
        "kiln/streamed-team:1",
        "kiln/streamed-mirror:1",
        totals -> {
          assertThat(totals.applyAsInt("blobsMounted")).isEqualTo(2);
          assertThat(totals.applyAsInt("blobsStreamed")).isEqualTo(1);
        });
  }

  /**
   * Two tags of one repository whose layer fails to stream (every {@code PATCH} part fails): one
   * push sends the layer the usual way, once, and the other waits for it; both tags name the exact
   * image.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void twoTagsWhoseStreamFailsSendTheLayerOnceTheUsualWay(@TempDir Path tmp) throws Exception {
    ImageBuild build = randomLayer(tmp, 12 * MIB, 10);
    try (AutoCloseable parts = StreamTesting.partSizes(MIB, 2 * MIB);
        FaultyProxy proxy =
            new FaultyProxy(registry.host(), s -> s.method().equals("PATCH"), Integer.MAX_VALUE);
        Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      String a = "docker://" + proxy.host() + "/kiln/streamed-failing:1.0";
      String b = "docker://" + proxy.host() + "/kiln/streamed-failing:latest";
      BakeResult r = kiln.bake(build, a, b);
      LayerRecord l = r.layers().get(0);
      String layerPut = "digest=" + RegistryClient.enc(l.digest().toString());
      assertThat(proxy.failures()).isPositive();
      assertThat(
              proxy.seen().stream()
                  .filter(s -> s.method().equals("PUT") && s.path().endsWith(layerPut))
                  .mapToLong(FaultyProxy.Seen::bodyBytes)
                  .sum())
          .isEqualTo(l.size());
      Map<String, String> da = r.published().get(a).details();
      Map<String, String> db = r.published().get(b).details();
      assertThat(da.get("blobsStreamed")).isEqualTo("0");
      assertThat(db.get("blobsStreamed")).isEqualTo("0");
      assertExact(r, "kiln/streamed-failing", "1.0");
      assertExact(r, "kiln/streamed-failing", "latest");
    }
    StreamTesting.joinStreamThreads();
  }

  /**
   * The tag's manifest and an upload session for the config are asked for while the layer is
   * written: between the image's assembly and its publication the registry sees no {@code POST} and
   * no {@code HEAD} of the manifest, only the config's {@code PUT} and the manifest's. The session
   * is used: no upload is cancelled, and the config goes up once.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void theTagAndAConfigSessionAreAskedForWhileTheLayerIsWritten(@TempDir Path tmp)
      throws Exception {
    ImageBuild build = randomLayer(tmp, 24 * MIB, 11);
    int[] atAssembly = {-1};
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0);
        // no part before the layer is written: the write (about half a second) is the window
        AutoCloseable parts = StreamTesting.partSizes(64 * MIB, 64 * MIB);
        Kiln kiln =
            Kiln.builder()
                .store(tmp.resolve("store"))
                .listener(
                    e -> {
                      if (e instanceof BakeEvent.ImageAssembled) {
                        atAssembly[0] = proxy.seen().size();
                      }
                    })
                .build()) {
      BakeResult r = kiln.bake(build, "docker://" + proxy.host() + "/kiln/ahead:1");
      List<FaultyProxy.Seen> seen = proxy.seen();
      assertThat(atAssembly[0]).isPositive();
      List<FaultyProxy.Seen> after = seen.subList(atAssembly[0], seen.size());
      // after the assembly: the layer's completing PUT (perhaps), the config's, the manifest's
      assertThat(after).allMatch(s -> s.method().equals("PUT"));
      String configPut = "digest=" + RegistryClient.enc(r.configDigest().toString());
      assertThat(after).anyMatch(s -> s.path().endsWith(configPut));
      assertThat(after).anyMatch(s -> s.path().equals("/v2/kiln/ahead/manifests/1"));
      assertThat(seen.stream().filter(s -> s.method().equals("POST"))).hasSize(2);
      assertThat(manifestHeads(seen)).isEqualTo(1);
      assertThat(r.published().values().iterator().next().details())
          .containsEntry("blobsStreamed", "1")
          .containsEntry("blobsUploaded", "2");
      assertExact(r, "kiln/ahead", "1");
      Thread.sleep(200); // a cancellation would go out on its own thread after the bake
      assertThat(proxy.seen()).noneMatch(s -> s.method().equals("DELETE"));
    }
    StreamTesting.joinStreamThreads();
  }

  /**
   * The registry no longer knows the session started ahead for the config (it expired, or the
   * registry restarted): the config goes up through a new one, and the image is exact.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aConfigSessionTheRegistryForgotIsReplacedByANewOne(@TempDir Path tmp) throws Exception {
    // the first small PUT that completes an upload is the config's (the layer's is 2 MiB)
    Faulted f =
        bakeWithOneFailure(
            tmp,
            randomLayer(tmp, 2 * MIB, 12),
            s ->
                s.method().equals("PUT")
                    && s.path().contains("/blobs/uploads/")
                    && s.bodyBytes() < 64 * 1024,
            404,
            "BLOB_UPLOAD_UNKNOWN",
            "kiln/ahead-forgot");
    assertThat(f.seen().stream().filter(s -> s.method().equals("POST"))).hasSize(3);
    assertThat(f.result().published().values().iterator().next().details())
        .containsEntry("blobsUploaded", "2");
  }

  /**
   * The tag's {@code HEAD} asked ahead is refused (a 403 the client does not retry): the bake asks
   * again once the image is assembled, and publishes the exact image.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aTagAskedAheadThatFailsIsAskedAgain(@TempDir Path tmp) throws Exception {
    Faulted f =
        bakeWithOneFailure(
            tmp,
            randomLayer(tmp, 64 * 1024, 16),
            s -> s.method().equals("HEAD") && s.path().contains("/manifests/"),
            403,
            "DENIED",
            "kiln/ahead-refused");
    assertThat(manifestHeads(f.seen())).isEqualTo(2);
    assertThat(f.result().published().values().iterator().next().reused()).isFalse();
  }

  /**
   * The tag named the image when it was asked for, ahead, but was moved before the image was
   * assembled: the tag is asked again, and the image is pushed, not reported as already there.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aTagThatMovedWhileTheLayerWasWrittenIsAskedAgain(@TempDir Path tmp) throws Exception {
    ImageBuild build = randomLayer(tmp, 64 * 1024, 13);
    Path other = tmp.resolve("other");
    StreamTesting.randomFile(other.resolve("b.bin"), 1024, 14);
    String direct = "docker://" + registry.host() + "/kiln/ahead-moved:1";
    BakeResult first;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("first")).build()) {
      first = kiln.bake(build, direct);
    }
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0);
        Kiln kiln = Kiln.builder().store(tmp.resolve("second")).build()) {
      // the tag, asked for ahead, names the image: it is asked again, and that request is held
      // until the tag has moved
      java.util.concurrent.atomic.AtomicInteger heads =
          new java.util.concurrent.atomic.AtomicInteger();
      proxy.holdUntil(
          s ->
              s.method().equals("HEAD")
                  && s.path().contains("/manifests/")
                  && heads.incrementAndGet() == 2,
          2, // never reached: the HEAD waits for release()
          Duration.ofMinutes(2));
      java.util.concurrent.CompletableFuture<BakeResult> again =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                try {
                  return kiln.bake(build, "docker://" + proxy.host() + "/kiln/ahead-moved:1");
                } catch (Exception e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
      while (proxy.mostInFlight() < 1) {
        assertThat(again).isNotDone();
        assertThat(System.nanoTime()).isLessThan(until);
        Thread.sleep(10);
      }
      try (Kiln mover = Kiln.builder().store(tmp.resolve("mover")).build()) {
        BakeResult moved =
            mover.bake(
                ImageBuild.from(Base.scratch())
                    .layer(Layer.files("other").addTree(other, "/other")),
                direct);
        assertThat(moved.digest()).isNotEqualTo(first.digest());
      }
      proxy.release();
      BakeResult r = again.get(2, TimeUnit.MINUTES);
      assertThat(r.digest()).isEqualTo(first.digest());
      PublishedImage p = r.published().values().iterator().next();
      assertThat(p.reused()).isFalse();
      assertThat(manifestHeads(proxy.seen())).isEqualTo(2);
      assertExact(r, "kiln/ahead-moved", "1");
    }
    StreamTesting.joinStreamThreads();
  }

  /**
   * A bake that writes a layer but finds the image under the tag already (a new store, the same
   * definition) uses no config session: the one started ahead is cancelled at the registry.
   */
  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aConfigSessionTheBakeDidNotUseIsCancelled(@TempDir Path tmp) throws Exception {
    ImageBuild build = randomLayer(tmp, 64 * 1024, 15);
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0)) {
      String target = "docker://" + proxy.host() + "/kiln/ahead-unused:1";
      BakeResult first;
      try (Kiln kiln = Kiln.builder().store(tmp.resolve("first")).build()) {
        first = kiln.bake(build, target);
      }
      int before = proxy.seen().size();
      BakeResult again;
      try (Kiln kiln = Kiln.builder().store(tmp.resolve("second")).build()) {
        again = kiln.bake(build, target);
      }
      assertThat(again.provisioned()).containsExactly("app");
      assertThat(again.published().get(target).reused()).isTrue();
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (proxy.seen().subList(before, proxy.seen().size()).stream()
          .noneMatch(s -> s.method().equals("DELETE"))) {
        assertThat(System.nanoTime()).isLessThan(until);
        Thread.sleep(10);
      }
      List<FaultyProxy.Seen> seen = proxy.seen().subList(before, proxy.seen().size());
      assertThat(seen.stream().filter(s -> s.method().equals("DELETE")))
          .singleElement()
          .matches(s -> s.path().contains("/v2/kiln/ahead-unused/blobs/uploads/"));
      assertExact(first, "kiln/ahead-unused", "1");
    }
    StreamTesting.joinStreamThreads();
  }

  /**
   * Bakes a one-layer image of 12 MiB of random bytes (from {@code seed}) to {@code first} and
   * {@code second} (REPO:TAG of the test's registry, through a proxy) in one bake; checks that
   * every blob byte went up once and that both name the exact image, then hands the sums of the two
   * publications' counts (by detail name) to {@code totals}.
   */
  private static void bakeToTwo(
      Path tmp,
      long seed,
      String first,
      String second,
      ThrowingConsumer<java.util.function.ToIntFunction<String>> totals)
      throws Exception {
    ImageBuild build = randomLayer(tmp, 12 * MIB, seed);
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0);
        Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      String a = "docker://" + proxy.host() + "/" + first;
      String b = "docker://" + proxy.host() + "/" + second;
      BakeResult r = kiln.bake(build, a, b);
      String repo = first.substring(0, first.indexOf(':'));
      long layer = r.layers().get(0).size();
      long config = StreamTesting.headBlob(registry.host(), repo, r.configDigest()).get();
      long blobBytes =
          proxy.seen().stream()
              .filter(
                  s ->
                      s.path().contains("/blobs/uploads/")
                          && (s.method().equals("PATCH") || s.method().equals("PUT")))
              .mapToLong(FaultyProxy.Seen::bodyBytes)
              .sum();
      assertThat(blobBytes).isEqualTo(layer + config);
      Map<String, String> da = r.published().get(a).details();
      Map<String, String> db = r.published().get(b).details();
      totals.accept(k -> Integer.parseInt(da.get(k)) + Integer.parseInt(db.get(k)));
      for (String ref : List.of(first, second)) {
        int colon = ref.indexOf(':');
        assertExact(r, ref.substring(0, colon), ref.substring(colon + 1));
      }
    }
    StreamTesting.joinStreamThreads();
  }

  /** A consumer whose assertions may throw. */
  @FunctionalInterface
  private interface ThrowingConsumer<T> {
    void accept(T t) throws Exception;
  }

  private static synchronized boolean secondPatch(int[] patches) {
    return ++patches[0] == 2;
  }

  /**
   * An image of one layer, {@code app}: a file of {@code size} random bytes (from {@code seed}).
   */
  private static ImageBuild randomLayer(Path tmp, int size, long seed) throws Exception {
    Path app = tmp.resolve("app");
    StreamTesting.randomFile(app.resolve("a.bin"), size, seed);
    return ImageBuild.from(Base.scratch()).layer(Layer.files("app").addTree(app, "/app"));
  }

  /** A bake through a proxy that failed one request, and what the proxy saw. */
  private record Faulted(BakeResult result, List<FaultyProxy.Seen> seen) {}

  /**
   * Bakes {@code build} to {@code REPO:1} through a proxy that answers the first request {@code
   * which} matches with {@code status} and the registry error {@code code}; checks that it did, and
   * that the tag names the exact image.
   */
  private static Faulted bakeWithOneFailure(
      Path tmp,
      ImageBuild build,
      java.util.function.Predicate<FaultyProxy.Seen> which,
      int status,
      String code,
      String repo)
      throws Exception {
    BakeResult r;
    List<FaultyProxy.Seen> seen;
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), which, 1).failWith(status, code);
        Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      r = kiln.bake(build, "docker://" + proxy.host() + "/" + repo + ":1");
      assertThat(proxy.failures()).isEqualTo(1);
      seen = proxy.seen();
    }
    assertExact(r, repo, "1");
    StreamTesting.joinStreamThreads();
    return new Faulted(r, seen);
  }

  /** How many of the requests asked for a manifest ({@code HEAD}). */
  private static long manifestHeads(List<FaultyProxy.Seen> seen) {
    return seen.stream()
        .filter(s -> s.method().equals("HEAD") && s.path().contains("/manifests/"))
        .count();
  }

  /** The tag names the image, and the registry serves every blob of it with the right bytes. */
  static void assertExact(BakeResult r, String repo, String tag) throws Exception {
    JsonNode inspect = RegistryIT.skopeoInspect(registry.host() + "/" + repo + ":" + tag);
    assertThat(inspect.path("Digest").asText()).isEqualTo(r.digest().toString());
    assertThat(inspect.path("Layers"))
        .extracting(JsonNode::asText)
        .containsExactlyElementsOf(r.layers().stream().map(l -> l.digest().toString()).toList());
    for (LayerRecord l : r.layers()) {
      assertThat(StreamTesting.headBlob(registry.host(), repo, l.digest())).contains(l.size());
      assertThat(StreamTesting.servedDigest(registry.host(), repo, l.digest()))
          .isEqualTo(l.digest());
    }
  }
}
