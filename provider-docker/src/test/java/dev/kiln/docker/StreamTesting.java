package dev.kiln.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerInProgress;
import dev.kiln.spi.PublishContext;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * For tests of layers streamed to a registry while they are written: a plain-HTTP look at what a
 * registry holds, the threads that stream, and a {@code docker://} store provider whose stores see
 * each layer being written through a hook of the test's own.
 */
public final class StreamTesting {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  /** The name every thread that streams a layer to a registry starts with. */
  public static final String THREAD_PREFIX = "kiln-registry-stream-";

  private StreamTesting() {}

  /** A file of {@code size} random (incompressible) bytes. */
  /**
   * Streams layers in parts of at least {@code min} and at most {@code max} bytes until the
   * returned handle is closed (the defaults again), so a small layer goes up in several parts
   * whatever the speed of its write.
   */
  public static AutoCloseable partSizes(int min, long max) {
    Registries.streamPart = min;
    Registries.streamPartMax = max;
    return () -> {
      Registries.streamPart = Registries.STREAM_PART;
      Registries.streamPartMax = Registries.STREAM_PART_MAX;
    };
  }

  public static Path randomFile(Path file, int size, long seed) throws IOException {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    Files.createDirectories(file.getParent());
    return Files.write(file, b);
  }

  /** The blob's size as a HEAD of the registry tells it; empty when the registry lacks it. */
  public static Optional<Long> headBlob(String host, String repo, Digest d) throws Exception {
    HttpResponse<Void> r =
        HTTP.send(
            HttpRequest.newBuilder(URI.create("http://" + host + "/v2/" + repo + "/blobs/" + d))
                .method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.discarding());
    if (r.statusCode() == 404) {
      return Optional.empty();
    }
    if (r.statusCode() != 200) {
      throw new IOException("HEAD " + d + ": HTTP " + r.statusCode());
    }
    return Optional.of(r.headers().firstValueAsLong("Content-Length").orElse(-1));
  }

  /** The digest of the bytes the registry serves for the blob. */
  public static Digest servedDigest(String host, String repo, Digest d) throws Exception {
    HttpResponse<byte[]> r =
        HTTP.send(
            HttpRequest.newBuilder(URI.create("http://" + host + "/v2/" + repo + "/blobs/" + d))
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() != 200) {
      throw new IOException("GET " + d + ": HTTP " + r.statusCode());
    }
    return Digest.of(r.body());
  }

  /** The manifest the tag names (an OCI manifest), empty when there is none. */
  public static Optional<JsonNode> manifest(String host, String repo, String tag) throws Exception {
    HttpResponse<byte[]> r =
        HTTP.send(
            HttpRequest.newBuilder(
                    URI.create("http://" + host + "/v2/" + repo + "/manifests/" + tag))
                .header("Accept", RegistryClient.ACCEPT)
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() == 404) {
      return Optional.empty();
    }
    if (r.statusCode() != 200) {
      throw new IOException("GET manifest " + tag + ": HTTP " + r.statusCode());
    }
    return Optional.of(JSON.readTree(r.body()));
  }

  /** The blobs a manifest names: its config and layers. */
  public static List<Digest> blobsOf(JsonNode manifest) {
    List<Digest> out = new ArrayList<>();
    out.add(Digest.parse(manifest.path("config").path("digest").asText()));
    for (JsonNode l : manifest.path("layers")) {
      out.add(Digest.parse(l.path("digest").asText()));
    }
    return out;
  }

  /** Waits for every thread streaming a layer to end (a test's timeout catches one that hangs). */
  public static void joinStreamThreads() throws InterruptedException {
    for (Thread t : streamThreads()) {
      t.join();
    }
  }

  /** The threads streaming a layer to a registry now. */
  public static List<Thread> streamThreads() {
    List<Thread> out = new ArrayList<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith(THREAD_PREFIX) && t.isAlive()) {
        out.add(t);
      }
    }
    return out;
  }

  /**
   * A provider of {@code docker://} stores (the module's own) that hands each layer being written
   * through {@code hook} before the store sees it: the hook may act (edit an input) or give the
   * store another view of the layer.
   */
  public static ImageStoreProvider hooked(UnaryOperator<LayerInProgress> hook) {
    return new ImageStoreProvider() {
      @Override
      public Set<String> schemes() {
        return Set.of("docker");
      }

      @Override
      public ImageStore create(Target target) {
        ImageStore store = new DockerImageStores().create(target);
        return new ImageStore() {
          @Override
          public Optional<PublishedImage> find(ImageView image, PublishContext ctx)
              throws BakeException {
            return store.find(image, ctx);
          }

          @Override
          public void layerWriting(LayerInProgress layer, PublishContext ctx) {
            store.layerWriting(hook.apply(layer), ctx);
          }

          @Override
          public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
            return store.publish(image, ctx);
          }
        };
      }
    };
  }
}
