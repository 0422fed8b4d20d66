package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.CorruptBlobException;
import dev.kiln.testing.Tools;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a push reads and sends its blobs, against Debian's docker-registry on loopback: a chunked
 * upload reads its blob once (again only for what a resume sends again), the stream's digest check
 * runs before the registry gets the whole blob, and the blobs of an image go up in parallel, the
 * manifest after all of them, and not at all when one blob fails.
 */
class RegistryPushIT {
  private static final int CHUNK = 64 * 1024;

  @TempDir static Path shared;
  static LocalRegistry registry;

  @BeforeAll
  static void setUp() throws Exception {
    Tools.require("docker-registry", "docker-registry");
    registry = LocalRegistry.start(shared.resolve("registry"));
  }

  @AfterAll
  static void tearDown() {
    if (registry != null) {
      registry.close();
    }
  }

  /** A blob source that counts the streams it opens and the bytes read from them. */
  static final class Counting implements RegistryClient.BlobSource {
    final byte[] blob;
    final AtomicInteger opened = new AtomicInteger();
    final AtomicLong read = new AtomicLong();

    Counting(byte[] blob) {
      this.blob = blob;
    }

    @Override
    public InputStream open() {
      opened.incrementAndGet();
      return new FilterInputStream(new ByteArrayInputStream(blob)) {
        @Override
        public int read() throws IOException {
          int b = super.read();
          if (b >= 0) {
            read.incrementAndGet();
          }
          return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
          int n = super.read(b, off, len);
          if (n > 0) {
            read.addAndGet(n);
          }
          return n;
        }
      };
    }
  }

  static byte[] random(int size, long seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  static RegistryClient client(String host) {
    return new RegistryClient(
        ImageReference.parse(host + "/kiln/x").registry(),
        URI.create("http://" + host + "/"),
        null,
        5,
        Duration.ofMillis(10),
        CHUNK);
  }

  static void assertHolds(RegistryClient c, String repo, Digest d, byte[] blob) throws Exception {
    assertThat(c.hasBlob(repo, d, RegistryClient.pullScope(repo))).isTrue();
    try (InputStream in = c.openBlob(repo, d)) {
      assertThat(in.readAllBytes()).isEqualTo(blob);
    }
  }

  @Test
  void aChunkedUploadReadsItsBlobOnce() throws Exception {
    byte[] blob = random(16 * CHUNK + 1234, 1);
    Digest d = Digest.of(blob);
    Counting source = new Counting(blob);
    RegistryClient c = client(registry.host());
    long sent = c.upload("kiln/once", d, blob.length, source, null, n -> {});
    assertThat(sent).isEqualTo(blob.length);
    // 17 chunks; reading each from the start would read the blob 9 times over
    assertThat(source.read.get()).isEqualTo(blob.length);
    assertThat(source.opened.get()).isEqualTo(1);
    assertHolds(c, "kiln/once", d, blob);
  }

  @Test
  void aResumedChunkedUploadReadsAgainOnlyUpToWhereItResumes() throws Exception {
    byte[] blob = random(10 * CHUNK, 2);
    Digest d = Digest.of(blob);
    AtomicInteger patches = new AtomicInteger();
    try (FaultyProxy proxy =
        new FaultyProxy(
            registry.host(),
            s -> s.method().equals("PATCH") && s.bodyBytes() > 0 && patches.incrementAndGet() == 6,
            1)) {
      Counting source = new Counting(blob);
      RegistryClient c = client(proxy.host());
      long sent = c.upload("kiln/resumed", d, blob.length, source, null, n -> {});
      assertThat(proxy.failures()).isEqualTo(1);
      assertThat(sent).isEqualTo(blob.length + CHUNK); // the failed sixth chunk went twice
      // the first pass up to the end of the failed chunk, then the blob from the start again
      assertThat(source.opened.get()).isEqualTo(2);
      assertThat(source.read.get()).isEqualTo(blob.length + 6L * CHUNK);
      assertHolds(c, "kiln/resumed", d, blob);
    }
  }

  @Test
  void aSourceThatFailsItsDigestCheckFailsTheUploadWithItsErrorAndNoBlob() throws Exception {
    byte[] blob = random(3 * CHUNK + 99, 3);
    Digest claimed = Digest.of(random(3 * CHUNK + 99, 4));
    CorruptBlobException corrupt = new CorruptBlobException(claimed, "blob is corrupt (test)");
    // as the store's streams do: the check runs when the end is read
    RegistryClient.BlobSource source =
        () ->
            new FilterInputStream(new ByteArrayInputStream(blob)) {
              @Override
              public int read() throws IOException {
                int b = super.read();
                if (b < 0) {
                  throw corrupt;
                }
                return b;
              }

              @Override
              public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n < 0) {
                  throw corrupt;
                }
                return n;
              }
            };
    for (long chunk : new long[] {CHUNK, 1 << 20}) { // in chunks, and in one PUT
      try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0)) {
        RegistryClient c =
            new RegistryClient(
                "127.0.0.1",
                URI.create("http://" + proxy.host() + "/"),
                null,
                5,
                Duration.ofMillis(10),
                chunk);
        assertThatThrownBy(
                () -> c.upload("kiln/corrupt", claimed, blob.length, source, null, n -> {}))
            .isSameAs(corrupt);
        assertThat(c.hasBlob("kiln/corrupt", claimed, RegistryClient.pullScope("kiln/corrupt")))
            .isFalse();
        // not retried: one POST to start the upload, no second one
        assertThat(proxy.seen()).filteredOn(s -> s.method().equals("POST")).hasSize(1);
        assertThat(proxy.seen())
            .filteredOn(s -> s.method().equals("PUT") && s.path().contains("digest="))
            .allMatch(s -> s.bodyBytes() < blob.length);
      }
    }
  }

  static ImageBuild threeLayers(String name) {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("a").content("/a", random(300_000, name.hashCode()), 0644))
        .layer(Layer.files("b").content("/b", random(200_000, name.hashCode() + 1), 0644))
        .layer(Layer.files("c").content("/c", random(100_000, name.hashCode() + 2), 0644))
        .config(c -> c.cmd("/a"));
  }

  static boolean blobUpload(FaultyProxy.Seen s) {
    return (s.method().equals("PUT") || s.method().equals("PATCH"))
        && s.path().contains("/blobs/uploads/")
        && s.bodyBytes() > 0;
  }

  @Test
  void theBlobsOfAnImageGoUpInParallelAndTheManifestAfterThem() throws Exception {
    List<BakeEvent.BytesWritten> progress = new CopyOnWriteArrayList<>();
    try (FaultyProxy proxy = new FaultyProxy(registry.host(), s -> false, 0);
        Kiln kiln =
            Kiln.builder()
                .store(shared.resolve("store-parallel"))
                .listener(
                    e -> {
                      if (e instanceof BakeEvent.BytesWritten w
                          && w.subject().startsWith("docker:")) {
                        progress.add(w);
                      }
                    })
                .build()) {
      // each upload waits until three are in flight (at most 20 s: one at a time is slow, not
      // stuck)
      proxy.holdUntil(RegistryPushIT::blobUpload, 3, Duration.ofSeconds(20));
      String target = "docker://" + proxy.host() + "/kiln/parallel:1";
      BakeResult r = kiln.bake(threeLayers("parallel"), target);
      var p = r.published().get(target);
      assertThat(p.digest()).isEqualTo(r.digest());
      assertThat(p.details()).containsEntry("blobsUploaded", "4");
      assertThat(proxy.mostInFlight()).isGreaterThanOrEqualTo(3);

      List<FaultyProxy.Seen> seen = proxy.seen();
      int manifest = -1;
      int lastBlob = -1;
      for (int i = 0; i < seen.size(); i++) {
        if (seen.get(i).method().equals("PUT") && seen.get(i).path().contains("/manifests/")) {
          manifest = i;
        } else if (blobUpload(seen.get(i))) {
          lastBlob = i;
        }
      }
      assertThat(manifest).isGreaterThan(lastBlob);

      // one total across the blobs, only growing, ending at what was sent
      long total = r.layers().stream().mapToLong(LayerRecord::size).sum();
      assertThat(progress).isNotEmpty();
      assertThat(progress).extracting(BakeEvent.BytesWritten::done).isSorted();
      BakeEvent.BytesWritten last = progress.get(progress.size() - 1);
      assertThat(last.done()).isEqualTo(Long.parseLong(p.details().get("bytesUploaded")));
      assertThat(last.total()).isEqualTo(last.done()).isGreaterThan(total);
    }
  }

  @Test
  void aBlobThatCannotBeUploadedFailsThePublishWithItsErrorAndNoManifest() throws Exception {
    try (Kiln kiln = Kiln.builder().store(shared.resolve("store-failing")).build()) {
      ImageBuild build = threeLayers("failing");
      Digest bad = kiln.bake(build).layers().get(1).digest();
      try (FaultyProxy proxy =
          new FaultyProxy(
              registry.host(),
              s -> blobUpload(s) && s.path().contains(bad.hex()),
              Integer.MAX_VALUE)) {
        String target = "docker://" + proxy.host() + "/kiln/failing:1";
        assertThatThrownBy(() -> kiln.bake(build, target))
            .isInstanceOf(ImageStoreException.class)
            .hasMessageContaining("could not upload blob " + bad)
            .hasMessageContaining("HTTP 500");
        assertThat(proxy.failures()).isEqualTo(Registries.ATTEMPTS);
        assertThat(proxy.seen())
            .noneMatch(s -> s.path().contains("/manifests/") && !s.method().equals("HEAD"));
        RegistryClient c = client(registry.host());
        assertThat(c.hasBlob("kiln/failing", bad, RegistryClient.pullScope("kiln/failing")))
            .isFalse();
      }
    }
  }
}
