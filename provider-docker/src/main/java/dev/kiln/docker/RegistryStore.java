package dev.kiln.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.IndexView;
import dev.kiln.spi.PublishContext;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code docker://HOST[:PORT]/REPO:TAG}: pushes images to an OCI distribution registry without a
 * Docker daemon; a multi-platform image as each platform's manifest (by digest) and the OCI image
 * index under the tag. Blobs the repository already has are skipped (HEAD), blobs seen in another
 * repository of the same registry are mounted, the rest are streamed from the store (chunked and
 * resumable when large), then the OCI manifest is put under the tag; a registry that refuses OCI
 * manifests gets the same image as a Docker v2 schema 2 manifest (whose digest differs, and is the
 * one reported). {@link #find} asks for the tag's manifest digest and reports the image as reused
 * when it is this image. Details: {@code reference}, {@code bytesUploaded}, {@code blobsUploaded},
 * {@code blobsSkipped}, {@code blobsMounted}, {@code manifestType}. Thread-safe.
 */
final class RegistryStore implements ImageStore {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String DOCKER_CONFIG_TYPE = "application/vnd.docker.container.image.v1+json";
  static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
  static final String DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";

  private final String target;
  private final RegistryTarget options;

  /** A store for a {@code docker://} target string or a {@link RegistryTarget}. */
  public RegistryStore(Target target) {
    this.options = RegistryTarget.parse(target);
    this.target = target.toString();
  }

  private RegistryClient client() {
    return Registries.client(options.reference(), options.plainHttp(), options.credentials());
  }

  private String repo() {
    return options.reference().repository();
  }

  @Override
  public Optional<PublishedImage> find(ImageView image, PublishContext ctx) throws BakeException {
    try {
      Optional<Digest> there =
          client()
              .manifestDigest(
                  repo(), options.reference().tagOrLatest(), RegistryClient.pushScope(repo()));
      if (there.isPresent() && there.get().equals(image.digest())) {
        return Optional.of(published(image.digest(), RegistryClient.OCI_MANIFEST, null));
      }
      if (there.isPresent() && there.get().equals(Digest.of(dockerManifest(image.manifest())))) {
        return Optional.of(published(there.get(), RegistryClient.DOCKER_MANIFEST, null));
      }
      return Optional.empty();
    } catch (IOException e) {
      throw failure(e);
    }
  }

  @Override
  public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
    RegistryClient client = client();
    String repo = repo();
    Transfer t = new Transfer(ctx, total(List.of(image)));
    try {
      pushBlobs(client, image, t);
      String tag = options.reference().tagOrLatest();
      Digest digest;
      String type = RegistryClient.OCI_MANIFEST;
      try {
        digest = client.putManifest(repo, tag, image.manifest(), RegistryClient.OCI_MANIFEST);
      } catch (RegistryException e) {
        if (!refusesOci(e)) {
          throw e;
        }
        type = RegistryClient.DOCKER_MANIFEST;
        byte[] docker = dockerManifest(image.manifest());
        digest = client.putManifest(repo, tag, docker, RegistryClient.DOCKER_MANIFEST);
      }
      return published(digest, type, t);
    } catch (IOException e) {
      throw failure(e);
    }
  }

  @Override
  public boolean takesIndex() {
    return true;
  }

  @Override
  public Optional<PublishedImage> findIndex(IndexView index, PublishContext ctx)
      throws BakeException {
    try {
      Optional<Digest> there =
          client()
              .manifestDigest(
                  repo(), options.reference().tagOrLatest(), RegistryClient.pushScope(repo()));
      if (there.isPresent() && there.get().equals(index.digest())) {
        return Optional.of(published(index.digest(), RegistryClient.OCI_INDEX, null));
      }
      return Optional.empty();
    } catch (IOException e) {
      throw failure(e);
    }
  }

  /**
   * Pushes the blobs and manifest of every platform's image (each manifest by its digest, so each
   * is addressable on its own), then the image index under the tag.
   */
  @Override
  public PublishedImage publishIndex(IndexView index, PublishContext ctx) throws BakeException {
    RegistryClient client = client();
    String repo = repo();
    Transfer t = new Transfer(ctx, total(index.images()));
    try {
      for (ImageView image : index.images()) {
        pushBlobs(client, image, t);
        client.putManifest(
            repo, image.digest().toString(), image.manifest(), RegistryClient.OCI_MANIFEST);
      }
      Digest digest =
          client.putManifest(
              repo, options.reference().tagOrLatest(), index.index(), RegistryClient.OCI_INDEX);
      return published(digest, RegistryClient.OCI_INDEX, t);
    } catch (IOException e) {
      throw failure(e);
    }
  }

  /** What one publication sent: bytes and blobs, for progress events and the details. */
  private final class Transfer {
    final PublishContext ctx;
    final long total;
    final AtomicLong uploaded = new AtomicLong();
    int skipped;
    int mounted;
    int sent;

    Transfer(PublishContext ctx, long total) {
      this.ctx = ctx;
      this.total = total;
    }
  }

  private long total(List<ImageView> images) throws BakeException {
    long total = 0;
    Set<Digest> seen = new LinkedHashSet<>();
    for (ImageView image : images) {
      for (Digest d : blobs(image)) {
        try {
          total += seen.add(d) ? image.blobSize(d) : 0;
        } catch (IOException e) {
          throw failure(e);
        }
      }
    }
    return total;
  }

  private static Set<Digest> blobs(ImageView image) {
    Set<Digest> blobs = new LinkedHashSet<>();
    for (LayerRecord l : image.layers()) {
      blobs.add(l.digest());
    }
    blobs.add(image.configDigest());
    return blobs;
  }

  /**
   * Makes the repository hold every blob of the image: skipped when there, mounted when seen in
   * another repository of the registry, else uploaded.
   */
  private void pushBlobs(RegistryClient client, ImageView image, Transfer t) throws IOException {
    String repo = repo();
    String registry = options.reference().registry();
    for (Digest d : blobs(image)) {
      if (client.hasBlob(repo, d, RegistryClient.pushScope(repo))) {
        t.skipped++;
        Registries.seen(registry, d, repo);
        continue;
      }
      java.net.URI started = null;
      Optional<String> from = Registries.elsewhere(registry, d, repo);
      if (from.isPresent()) {
        try {
          Optional<java.net.URI> upload = client.mount(repo, d, from.get());
          if (upload.isEmpty()) {
            t.mounted++;
            Registries.seen(registry, d, repo);
            continue;
          }
          started = upload.get();
        } catch (RegistryException e) {
          // not mounted: uploaded below
        }
      }
      long before = t.uploaded.get();
      long n =
          client.upload(
              repo,
              d,
              image.blobSize(d),
              () -> image.openBlob(d),
              started,
              done -> t.ctx.emit(new BakeEvent.BytesWritten(target, before + done, t.total)));
      t.uploaded.addAndGet(n);
      t.sent++;
      Registries.seen(registry, d, repo);
    }
  }

  private static boolean refusesOci(RegistryException e) {
    return e.status() == 415
        || (e.status() == 400
            && (e.codes().contains("MANIFEST_INVALID") || e.codes().contains("UNSUPPORTED")));
  }

  /** The same image with a Docker v2 schema 2 manifest: media types change, nothing else. */
  static byte[] dockerManifest(byte[] oci) throws IOException {
    ObjectNode m = (ObjectNode) JSON.readTree(oci);
    m.put("mediaType", RegistryClient.DOCKER_MANIFEST);
    ((ObjectNode) m.path("config")).put("mediaType", DOCKER_CONFIG_TYPE);
    for (JsonNode l : m.path("layers")) {
      String t = l.path("mediaType").asText();
      ((ObjectNode) l)
          .put(
              "mediaType",
              t.endsWith("+gzip") || t.endsWith(".gzip") ? DOCKER_LAYER_GZIP : DOCKER_LAYER_TAR);
    }
    return JSON.writeValueAsBytes(m);
  }

  /** The publication of {@code digest}; {@code t} null when nothing was sent. */
  private PublishedImage published(Digest digest, String type, Transfer t) {
    Map<String, String> d = new LinkedHashMap<>();
    d.put(
        "reference",
        options.reference().registry() + "/" + repo() + ":" + options.reference().tagOrLatest());
    d.put("bytesUploaded", Long.toString(t == null ? 0 : t.uploaded.get()));
    d.put("blobsUploaded", Integer.toString(t == null ? 0 : t.sent));
    d.put("blobsSkipped", Integer.toString(t == null ? 0 : t.skipped));
    d.put("blobsMounted", Integer.toString(t == null ? 0 : t.mounted));
    d.put("manifestType", type);
    return new PublishedImage(target, digest, false, d);
  }

  private ImageStoreException failure(IOException e) {
    String msg = e.getMessage();
    if (!(e instanceof RegistryException)) {
      msg =
          "cannot reach registry "
              + options.reference().registry()
              + " over "
              + (options.plainHttp() ? "plain HTTP" : "HTTPS")
              + ": "
              + e;
    }
    return new ImageStoreException(target, msg, e);
  }
}
