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
import dev.kiln.spi.Attachments;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.CosignManifests;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.IndexView;
import dev.kiln.spi.LayerInProgress;
import dev.kiln.spi.PublishContext;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code docker://HOST[:PORT]/REPO:TAG}: pushes images to an OCI distribution registry without a
 * Docker daemon; a multi-platform image as each platform's manifest (by digest) and the OCI image
 * index under the tag. Blobs the repository already has are skipped (HEAD), blobs seen in another
 * repository of the same registry are mounted, the rest are streamed from the store (chunked and
 * resumable when large), several blobs at once; a layer this bake writes is streamed to the
 * repository while it is compressed ({@link #layerWriting}) and not sent again when the registry
 * took it with its digest; once all are there, the OCI manifest is put under the tag; a registry
 * that refuses OCI manifests gets the same image as a Docker v2 schema 2 manifest (whose digest
 * differs, and is the one reported). {@link #find} asks for the tag's manifest digest and reports
 * the image as reused when it is this image. Details: {@code reference}, {@code bytesUploaded},
 * {@code blobsUploaded}, {@code blobsSkipped}, {@code blobsMounted}, {@code blobsStreamed}, {@code
 * manifestType}. Thread-safe.
 */
final class RegistryStore implements ImageStore, AttestationSink {
  private static final Logger log = LoggerFactory.getLogger(RegistryStore.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String DOCKER_CONFIG_TYPE = "application/vnd.docker.container.image.v1+json";
  static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
  static final String DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";

  private final String target;
  private final RegistryTarget options;

  /** The uploads started while layers were written ({@link #layerWriting}), until published. */
  private final List<Streamed> streamed = new CopyOnWriteArrayList<>();

  /**
   * A layer's upload while it is written: the layer's write (its digest once it is done) and the
   * upload's outcome, the bytes it sent or why it failed.
   */
  private record Streamed(
      String layer,
      CompletableFuture<LayerInProgress.Written> written,
      CompletableFuture<Long> sent) {}

  /** The diffIDs of the layers this bake wrote for this target, once each is written. */
  private final Set<Digest> writtenLayers = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * Asked of the registry as soon as the bake writes its first layer ({@link #askAhead}), while the
   * layers are written: what the tag names now, and an upload session for the new config. Null
   * until then.
   */
  private final AtomicReference<Ahead> ahead = new AtomicReference<>();

  /**
   * The tag's manifest digest (empty when the tag is not there) and an upload session started for
   * the image's config, until it is taken (by the config's upload, or the cancellation at the end
   * of the bake); either fails when its request did, and then is asked again the usual way.
   */
  private record Ahead(
      CompletableFuture<Optional<Digest>> tag, AtomicReference<CompletableFuture<URI>> session) {}

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
      Digest docker = Digest.of(dockerManifest(image.manifest()));
      Optional<Digest> there = tagDigest(d -> d.equals(image.digest()) || d.equals(docker));
      if (there.isPresent() && there.get().equals(image.digest())) {
        return Optional.of(published(image.digest(), RegistryClient.OCI_MANIFEST, null));
      }
      if (there.isPresent() && there.get().equals(docker)) {
        return Optional.of(published(there.get(), RegistryClient.DOCKER_MANIFEST, null));
      }
      return Optional.empty();
    } catch (IOException e) {
      throw failure(e);
    }
  }

  /**
   * Starts uploading the layer's blob while it is compressed, on a daemon thread of its own (the
   * bake's executor is busy compressing): {@link RegistryClient#uploadGrowing} sends it in parts as
   * it grows and completes the upload with the digest once the layer is written, so the registry
   * checks the bytes. {@link #publish} waits for it; whatever went wrong, it sends the blob the
   * usual way. The thread ends with the upload, which fails when the write does or the bake ends.
   */
  @Override
  public void layerWriting(LayerInProgress layer, PublishContext ctx) {
    layer.written().thenAccept(w -> writtenLayers.add(w.diffId()));
    askAhead(layer);
    String registry = options.reference().registry();
    if (!Registries.claimStream(layer, registry)) {
      return; // another target of the bake streams it to this registry: publish waits for that
    }
    layer.bakeEnded().thenRun(() -> Registries.streamed(layer));
    try {
      Streamed s =
          new Streamed(
              layer.name(), layer.written().toCompletableFuture(), new CompletableFuture<>());
      // once its digest is known, other pushes of the layer to this repository wait for this one
      layer.written().thenAccept(w -> Registries.uploading(registry, w.digest(), repo(), s.sent()));
      Thread th = new Thread(() -> stream(layer, s), "kiln-registry-stream-" + layer.name());
      th.setDaemon(true);
      streamed.add(s);
      try {
        th.start();
      } catch (RuntimeException | Error e) {
        s.sent().completeExceptionally(e); // publish does not wait for it
        throw e;
      }
    } catch (RuntimeException | Error e) {
      log.warn("{}: cannot stream layer '{}' while it is written: {}", target, layer.name(), e);
    }
  }

  private void stream(LayerInProgress layer, Streamed s) {
    String repo = repo();
    try {
      RegistryClient.WrittenBlob written =
          () -> {
            LayerInProgress.Written w = awaitWritten(s.written());
            return new RegistryClient.BlobId(w.digest(), w.size());
          };
      RegistryClient.GrowingSource source =
          new RegistryClient.GrowingSource() {
            @Override
            public InputStream open() throws IOException {
              return layer.openBlob();
            }

            @Override
            public boolean ended() {
              return s.written().isDone();
            }

            @Override
            public void await(long millis) throws InterruptedException {
              try {
                s.written().get(millis, TimeUnit.MILLISECONDS);
              } catch (ExecutionException | TimeoutException e) {
                // written, failed, or still growing: the caller looks again
              }
            }
          };
      long sent =
          client()
              .uploadGrowing(
                  repo, source, written, Registries.streamPart, Registries.streamPartMax, n -> {});
      Registries.seen(options.reference().registry(), awaitWritten(s.written()).digest(), repo);
      s.sent().complete(sent);
    } catch (RegistryClient.AlreadyThere e) {
      log.debug("{}: layer '{}': {}", target, s.layer(), e.getMessage());
      Registries.seen(options.reference().registry(), e.digest, repo);
      s.sent().completeExceptionally(e);
    } catch (IOException | RuntimeException | Error e) {
      log.info(
          "{}: streaming layer '{}' while it was written failed ({}); a push sends it the usual way",
          target,
          s.layer(),
          e.toString());
      s.sent().completeExceptionally(e);
    }
  }

  private static LayerInProgress.Written awaitWritten(
      CompletableFuture<LayerInProgress.Written> written) throws IOException {
    try {
      return written.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the layer to be written");
    } catch (ExecutionException e) {
      throw new IOException("the layer was not written: " + e.getCause(), e.getCause());
    }
  }

  /**
   * Once per bake, when it writes its first layer: asks the registry, on a daemon thread of its own
   * while the layers are written, what the tag names ({@link #find} compares it with the image) and
   * starts an upload session for the config, which names the new layer and so is new too. Both are
   * then off the path from the image's assembly to its publication: a bake that changed a small
   * layer otherwise waits for two more round trips there. A session the bake did not use is
   * cancelled when it ends (best effort; registries also expire abandoned ones).
   */
  private void askAhead(LayerInProgress layer) {
    CompletableFuture<URI> session = new CompletableFuture<>();
    Ahead a = new Ahead(new CompletableFuture<>(), new AtomicReference<>(session));
    if (!ahead.compareAndSet(null, a)) {
      return;
    }
    layer
        .bakeEnded()
        .thenRun(
            () -> {
              CompletableFuture<URI> unused = a.session().getAndSet(null);
              if (unused != null) {
                unused.thenAccept(
                    uri ->
                        daemon("kiln-registry-cancel", () -> client().cancelUpload(repo(), uri)));
              }
            });
    try {
      daemon(
          "kiln-registry-ahead",
          () -> {
            try {
              a.tag().complete(askTag());
            } catch (IOException | RuntimeException | Error e) {
              a.tag().completeExceptionally(e);
            }
            try {
              session.complete(client().startUpload(repo()));
            } catch (IOException | RuntimeException | Error e) {
              session.completeExceptionally(e);
            }
          });
    } catch (RuntimeException | Error e) {
      a.tag().completeExceptionally(e);
      session.completeExceptionally(e);
      log.debug("{}: cannot ask the registry ahead: {}", target, e.toString());
    }
  }

  private static void daemon(String name, Runnable r) {
    Thread th = new Thread(r, name);
    th.setDaemon(true);
    th.start();
  }

  /**
   * The manifest digest the tag names: as asked while the layers were written, unless that answer
   * would mean the target already holds the image ({@code reuses}), which is then asked again,
   * since the tag may have moved since. Asked now, too, when it was not asked ahead, or that
   * request failed (so a failure is reported with the usual error).
   */
  private Optional<Digest> tagDigest(Predicate<Digest> reuses) throws IOException {
    Ahead a = ahead.get();
    if (a != null) {
      try {
        Optional<Digest> there = a.tag().get();
        if (there.isEmpty() || !reuses.test(there.get())) {
          return there;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while asking for the tag's manifest");
      } catch (ExecutionException e) {
        log.debug("{}: the tag asked ahead: {}", target, e.getCause().toString());
      }
    }
    return askTag();
  }

  /** The manifest digest the tag names now (empty when the tag is not there). */
  private Optional<Digest> askTag() throws IOException {
    return client()
        .manifestDigest(
            repo(), options.reference().tagOrLatest(), RegistryClient.pushScope(repo()));
  }

  /**
   * The upload session started ahead for the config, once: null when there is none, it failed, or
   * it was taken already.
   */
  private URI takeSession() {
    Ahead a = ahead.get();
    CompletableFuture<URI> s = a == null ? null : a.session().getAndSet(null);
    if (s == null) {
      return null;
    }
    try {
      return s.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (ExecutionException e) {
      return null;
    }
  }

  /**
   * The bytes sent by the upload of {@code d} streamed while it was written, when the registry took
   * it (answered 201 to the upload completed with the digest); waits for it. Empty when there was
   * none or it failed: then the blob is sent the usual way. An upload is used by one publication.
   * The bytes an upload sent before it was cancelled, because the registry turned out to hold the
   * blob already, go to {@code cancelled}.
   */
  private Optional<Long> streamedUpload(Digest d, LongConsumer cancelled) throws IOException {
    for (Streamed s : streamed) {
      LayerInProgress.Written w =
          s.written().isDone() && !s.written().isCompletedExceptionally()
              ? s.written().join()
              : null;
      if (w == null || !w.digest().equals(d)) {
        continue;
      }
      streamed.remove(s);
      try {
        return Optional.of(s.sent().get());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for the upload of " + d);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof RegistryClient.AlreadyThere there) {
          cancelled.accept(there.sent);
        }
        // sent below the usual way (a blob the registry holds is skipped there)
      }
    }
    return Optional.empty();
  }

  @Override
  public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
    RegistryClient client = client();
    String repo = repo();
    Transfer t = new Transfer(ctx, total(List.of(image)));
    try {
      pushBlobs(client, List.of(image), t);
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
      Optional<Digest> there = tagDigest(d -> d.equals(index.digest()));
      if (there.isPresent() && there.get().equals(index.digest())) {
        return Optional.of(published(index.digest(), RegistryClient.OCI_INDEX, null));
      }
      return Optional.empty();
    } catch (IOException e) {
      throw failure(e);
    }
  }

  /**
   * Pushes the blobs of every platform's image, then each platform's manifest (by its digest, so
   * each is addressable on its own), then the image index under the tag.
   */
  @Override
  public PublishedImage publishIndex(IndexView index, PublishContext ctx) throws BakeException {
    RegistryClient client = client();
    String repo = repo();
    Transfer t = new Transfer(ctx, total(index.images()));
    try {
      pushBlobs(client, index.images(), t);
      for (ImageView image : index.images()) {
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

  /** The largest signature or attestation layer Kiln reads back (an SBOM of a large image). */
  static final int MAX_ATTACHED_BLOB = 64 << 20;

  /**
   * Attaches as cosign does, and as OCI 1.1 referrers: the signature of the manifest the tag names
   * under {@code sha256-<hex>.sig}, the attestations of each image under {@code sha256-<hex>.att};
   * both manifests name the image as their {@code subject}, and where the registry has no referrers
   * API the tag {@code sha256-<hex>} holds the index of them. What the tags hold already is kept: a
   * signature by the same key of the same payload is not written again, other signatures stay.
   */
  @Override
  public void attach(PublishedImage published, Attachments a, PublishContext ctx)
      throws BakeException {
    RegistryClient client = client();
    String repo = repo();
    try {
      Digest top = published.digest();
      CosignManifests.Descriptor subject;
      if (top.equals(a.image())) {
        subject = new CosignManifests.Descriptor(a.mediaType(), top, a.manifest().length, null);
      } else {
        // the registry took the Docker schema 2 form of the manifest: that is what is signed
        byte[] docker = dockerManifest(a.manifest());
        subject =
            new CosignManifests.Descriptor(
                RegistryClient.DOCKER_MANIFEST, top, docker.length, null);
      }
      List<CosignManifests.Descriptor> referrers = new ArrayList<>();
      List<Digest> replaced = new ArrayList<>();
      byte[] payload = Cosign.payload(options.reference().registry() + "/" + repo, top);
      Optional<RegistryClient.Manifest> sig =
          client.findManifest(repo, Cosign.signatureTag(top), RegistryClient.pushScope(repo));
      List<CosignManifests.Layer> sigLayers =
          sig.isPresent() ? layers(client, sig.get()) : List.of();
      Optional<List<CosignManifests.Layer>> newSig =
          CosignManifests.mergeSignature(sigLayers, payload, a.signer());
      if (newSig.isPresent()) {
        CosignManifests.Artifact art =
            CosignManifests.artifact(Cosign.SIGNATURE_ARTIFACT, newSig.get(), subject);
        put(client, art, Cosign.signatureTag(top));
        referrers.add(art.descriptor(Cosign.SIGNATURE_ARTIFACT));
        sig.ifPresent(m -> replaced.add(m.digest()));
      }
      Map<Digest, List<CosignManifests.Layer>> bySubject = new LinkedHashMap<>();
      for (Attachments.Attested at : a.attestations()) {
        Digest d = top.equals(a.image()) ? at.subject() : top;
        bySubject
            .computeIfAbsent(d, k -> new ArrayList<>())
            .add(CosignManifests.attestationLayer(at.envelope(), at.predicateType()));
      }
      for (Map.Entry<Digest, List<CosignManifests.Layer>> e : bySubject.entrySet()) {
        CosignManifests.Descriptor about = subject;
        if (!e.getKey().equals(top)) {
          RegistryClient.Manifest m =
              client
                  .findManifest(repo, e.getKey().toString(), RegistryClient.pushScope(repo))
                  .orElseThrow(
                      () -> new IOException("the registry does not hold image " + e.getKey()));
          about = new CosignManifests.Descriptor(m.mediaType(), e.getKey(), m.bytes().length, null);
        }
        String tag = Cosign.attestationTag(e.getKey());
        Optional<RegistryClient.Manifest> att =
            client.findManifest(repo, tag, RegistryClient.pushScope(repo));
        List<CosignManifests.Layer> attLayers =
            att.isPresent() ? layers(client, att.get()) : List.of();
        Optional<List<CosignManifests.Layer>> merged =
            CosignManifests.mergeAttestations(attLayers, e.getValue(), a.signer().publicKey());
        if (merged.isEmpty()) {
          continue;
        }
        CosignManifests.Artifact art =
            CosignManifests.artifact(Cosign.ATTESTATION_ARTIFACT, merged.get(), about);
        put(client, art, tag);
        List<Digest> gone = att.map(m -> List.of(m.digest())).orElse(List.of());
        if (e.getKey().equals(top)) {
          referrers.add(art.descriptor(Cosign.ATTESTATION_ARTIFACT));
          replaced.addAll(gone);
        } else {
          updateReferrersTag(
              client, e.getKey(), List.of(art.descriptor(Cosign.ATTESTATION_ARTIFACT)), gone);
        }
      }
      updateReferrersTag(client, top, referrers, replaced);
    } catch (IOException e) {
      throw failure(e);
    }
  }

  /** Pushes an artifact's blobs, then its manifest under {@code tag}. */
  private void put(RegistryClient client, CosignManifests.Artifact art, String tag)
      throws IOException {
    String repo = repo();
    for (CosignManifests.Layer l : art.layers()) {
      client.putBlob(repo, l.content());
    }
    client.putBlob(repo, art.config());
    client.putManifest(repo, tag, art.manifest(), RegistryClient.OCI_MANIFEST);
  }

  /**
   * The referrers tag schema, where the registry has no referrers API: the index under {@code
   * sha256-<hex>} lists {@code add}, without the manifests {@code replaced}.
   */
  private void updateReferrersTag(
      RegistryClient client,
      Digest subject,
      List<CosignManifests.Descriptor> add,
      List<Digest> replaced)
      throws IOException {
    if (add.isEmpty()) {
      return;
    }
    String repo = repo();
    if (client.referrers(repo, subject).isPresent()) {
      return; // the registry lists referrers by their subject itself
    }
    String tag = Cosign.referrersTag(subject);
    Optional<RegistryClient.Manifest> old =
        client.findManifest(repo, tag, RegistryClient.pushScope(repo));
    byte[] index =
        CosignManifests.referrersIndex(old.map(m -> m.bytes()).orElse(null), add, replaced);
    client.putManifest(repo, tag, index, RegistryClient.OCI_INDEX);
  }

  /** The layers of a signature or attestation manifest, with their bytes. */
  private List<CosignManifests.Layer> layers(RegistryClient client, RegistryClient.Manifest m)
      throws IOException {
    String repo = repo();
    return CosignManifests.read(
        m.bytes(), l -> client.smallBlob(repo, l.digest(), MAX_ATTACHED_BLOB));
  }

  /**
   * What the tag names and what is attached to it: the {@code .sig} layers of it, the {@code .att}
   * layers of it and, for an index, of each of its images. Without a {@code .sig} or {@code .att}
   * tag, the manifests the referrers API (or the referrers tag) lists with their artifact type.
   */
  @Override
  public Attached read(PublishContext ctx) throws BakeException {
    RegistryClient client = client();
    String repo = repo();
    String scope = RegistryClient.pullScope(repo);
    try {
      RegistryClient.Manifest top =
          client
              .findManifest(repo, options.reference().manifestReference(), scope)
              .orElseThrow(
                  () -> new IOException("the registry has no image " + options.reference()));
      List<CosignManifests.Layer> sigs =
          attached(
              client, top.digest(), Cosign.signatureTag(top.digest()), Cosign.SIGNATURE_ARTIFACT);
      Map<Digest, List<CosignManifests.Layer>> atts = new LinkedHashMap<>();
      List<Digest> images = new ArrayList<>();
      images.add(top.digest());
      if (top.mediaType().equals(RegistryClient.OCI_INDEX)
          || top.mediaType().equals(RegistryClient.DOCKER_LIST)) {
        for (JsonNode m : JSON.readTree(top.bytes()).path("manifests")) {
          images.add(Digest.parse(m.path("digest").asText()));
        }
      }
      for (Digest d : images) {
        atts.put(d, attached(client, d, Cosign.attestationTag(d), Cosign.ATTESTATION_ARTIFACT));
      }
      return new Attached(top.bytes(), top.mediaType(), sigs, atts);
    } catch (IOException | IllegalArgumentException e) {
      throw failure(e instanceof IOException io ? io : new IOException(e.getMessage(), e));
    }
  }

  private List<CosignManifests.Layer> attached(
      RegistryClient client, Digest subject, String tag, String artifactType) throws IOException {
    String repo = repo();
    String scope = RegistryClient.pullScope(repo);
    Optional<RegistryClient.Manifest> m = client.findManifest(repo, tag, scope);
    if (m.isPresent()) {
      return layers(client, m.get());
    }
    Optional<byte[]> index = client.referrers(repo, subject);
    if (index.isEmpty()) {
      index = client.findManifest(repo, Cosign.referrersTag(subject), scope).map(x -> x.bytes());
    }
    List<CosignManifests.Layer> out = new ArrayList<>();
    if (index.isPresent()) {
      for (Digest d : CosignManifests.referrers(index.get(), artifactType)) {
        Optional<RegistryClient.Manifest> r = client.findManifest(repo, d.toString(), scope);
        if (r.isPresent()) {
          out.addAll(layers(client, r.get()));
        }
      }
    }
    return out;
  }

  /** What one publication sent: bytes and blobs, for progress events and the details. */
  private final class Transfer {
    final PublishContext ctx;
    final long total;
    final AtomicLong uploaded = new AtomicLong();
    final AtomicInteger skipped = new AtomicInteger();
    final AtomicInteger mounted = new AtomicInteger();
    final AtomicInteger sent = new AtomicInteger();
    final AtomicInteger streamed = new AtomicInteger();

    /** The first failure of a blob: the others stop. */
    final AtomicReference<Throwable> failure = new AtomicReference<>();

    private long progressed;

    Transfer(PublishContext ctx, long total) {
      this.ctx = ctx;
      this.total = total;
    }

    /**
     * A progress callback for one blob's upload, which counts its own bytes: adds them to the total
     * of all blobs, one event at a time, so the events a listener sees only grow.
     */
    LongConsumer progress() {
      AtomicLong last = new AtomicLong();
      return done -> {
        long delta = done - last.getAndSet(done);
        synchronized (this) {
          progressed += delta;
          ctx.emit(new BakeEvent.BytesWritten(target, progressed, total));
        }
      };
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
   * Makes the repository hold every blob of the images: skipped when there, mounted when seen in
   * another repository of the registry, else uploaded. Up to {@link Registries#PARALLEL_BLOBS}
   * blobs at once, the largest first; the first failure stops the others and is thrown.
   */
  private void pushBlobs(RegistryClient client, List<ImageView> images, Transfer t)
      throws IOException {
    Map<Digest, ImageView> owner = new LinkedHashMap<>();
    Map<Digest, Long> sizes = new HashMap<>();
    for (ImageView image : images) {
      for (Digest d : blobs(image)) {
        if (owner.putIfAbsent(d, image) == null) {
          sizes.put(d, image.blobSize(d));
        }
      }
    }
    List<Digest> order = new ArrayList<>(owner.keySet());
    // the long uploads start first, the small ones fill in beside them
    order.sort(Comparator.comparing((Digest d) -> sizes.get(d)).reversed());
    inParallel(
        order,
        Registries.PARALLEL_BLOBS,
        RegistryStore::helper,
        t.failure,
        d -> pushBlob(client, owner.get(d), d, sizes.get(d), t));
  }

  private void pushBlob(RegistryClient client, ImageView image, Digest d, long size, Transfer t)
      throws IOException {
    String repo = repo();
    String registry = options.reference().registry();
    Optional<Long> streamedBytes = streamedUpload(d, t.uploaded::addAndGet);
    if (streamedBytes.isPresent()) {
      t.uploaded.addAndGet(streamedBytes.get());
      t.sent.incrementAndGet();
      t.streamed.incrementAndGet();
      t.progress().accept(size);
      return;
    }
    CompletableFuture<Void> mine = new CompletableFuture<>();
    Optional<CompletableFuture<?>> other;
    while ((other = Registries.uploading(registry, d, repo, mine)).isPresent()) {
      if (tookOther(other.get(), d)) {
        t.skipped.incrementAndGet(); // another target of this process just pushed it here
        Registries.seen(registry, d, repo);
        return;
      }
      // it failed: the next push in line (this one, or another that got in first) sends it
    }
    Optional<CompletableFuture<?>> elsewhere = Registries.uploadingElsewhere(registry, d, repo);
    if (elsewhere.isPresent()) {
      tookOther(elsewhere.get(), d); // then it can be mounted from there (or is uploaded if not)
    }
    try {
      sendBlob(client, image, d, size, t);
      mine.complete(null);
    } catch (IOException | RuntimeException | Error e) {
      mine.completeExceptionally(e);
      throw e;
    }
  }

  /**
   * Waits for another push of {@code d} to this repository in this process: true when it got the
   * blob there, false when it failed (then this push sends it).
   */
  private static boolean tookOther(CompletableFuture<?> other, Digest d) throws IOException {
    try {
      other.get();
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for another push of " + d);
    } catch (ExecutionException e) {
      return false;
    }
  }

  /** Pushes a blob the usual way: skipped when the repository has it, else mounted or uploaded. */
  private void sendBlob(RegistryClient client, ImageView image, Digest d, long size, Transfer t)
      throws IOException {
    String repo = repo();
    String registry = options.reference().registry();
    boolean newConfig = newConfig(image, d);
    if (!newConfig && client.hasBlob(repo, d, RegistryClient.pushScope(repo))) {
      t.skipped.incrementAndGet();
      Registries.seen(registry, d, repo);
      return;
    }
    Optional<String> from = Registries.elsewhere(registry, d, repo);
    // a new config goes up through the session started ahead for it (one in another repository is
    // mounted from there instead)
    URI session = newConfig && from.isEmpty() ? takeSession() : null;
    URI started = session;
    if (from.isPresent()) {
      try {
        Optional<URI> upload = client.mount(repo, d, from.get());
        if (upload.isEmpty()) {
          t.mounted.incrementAndGet();
          Registries.seen(registry, d, repo);
          return;
        }
        started = upload.get();
      } catch (RegistryException e) {
        // not mounted: uploaded below
      }
    }
    RegistryClient.BlobSource source = () -> new Stoppable(image.openBlob(d), t.failure);
    long n;
    try {
      n = client.upload(repo, d, size, source, started, t.progress());
    } catch (RegistryException e) {
      if (session == null) {
        throw e;
      }
      // the registry refused the session started ahead (it expired, or the registry restarted)
      log.debug("{}: the upload session started ahead was refused ({})", target, e.getMessage());
      n = client.upload(repo, d, size, source, null, t.progress());
    }
    t.uploaded.addAndGet(n);
    t.sent.incrementAndGet();
    Registries.seen(registry, d, repo);
  }

  /**
   * Whether {@code d} is the config of an image with a layer this bake wrote: a config that names a
   * new diffID is new, so it is uploaded without asking the registry first (one round trip less; a
   * registry that had it anyway takes the same bytes again).
   */
  private boolean newConfig(ImageView image, Digest d) {
    return d.equals(image.configDigest())
        && image.layers().stream().anyMatch(l -> writtenLayers.contains(l.diffId()));
  }

  /** A blob's stream that fails once another blob of the publication failed: its upload stops. */
  private static final class Stoppable extends FilterInputStream {
    private final AtomicReference<Throwable> failure;

    Stoppable(InputStream in, AtomicReference<Throwable> failure) {
      super(in);
      this.failure = failure;
    }

    @Override
    public int read() throws IOException {
      check();
      return super.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      check();
      return super.read(b, off, len);
    }

    private void check() throws IOException {
      Throwable f = failure.get();
      if (f != null) {
        throw new IOException("stopped: another blob failed (" + f.getMessage() + ")");
      }
    }
  }

  /**
   * Runs a helper of {@link #inParallel} on a daemon thread of its own: the bake's executor may be
   * busy with the last layers, and a push is mostly waiting for the registry.
   */
  private static void helper(Runnable r) {
    try {
      daemon("kiln-registry-push", r);
    } catch (RuntimeException | OutOfMemoryError e) {
      throw new RejectedExecutionException("cannot start a push thread", e);
    }
  }

  /** Something done to one item that may fail. */
  @FunctionalInterface
  interface ItemAction<T> {
    void run(T item) throws IOException;
  }

  /**
   * Runs {@code action} on every item, {@code parallel} at once: the calling thread works through
   * the items too, helped by up to {@code parallel - 1} tasks on {@code executor}. It waits only
   * for helpers that started, so a busy or small executor slows the work down but cannot block it.
   * The first failure is kept in {@code failure}; no item starts after it, and it is thrown once
   * the running ones have stopped.
   */
  static <T> void inParallel(
      List<T> items,
      int parallel,
      Executor executor,
      AtomicReference<Throwable> failure,
      ItemAction<T> action)
      throws IOException {
    Queue<T> queue = new ConcurrentLinkedQueue<>(items);
    Runnable work =
        () -> {
          T item;
          while (failure.get() == null && (item = queue.poll()) != null) {
            try {
              action.run(item);
            } catch (IOException | RuntimeException | Error e) {
              failure.compareAndSet(null, e);
            }
          }
        };
    Object lock = new Object();
    int[] running = {0};
    boolean[] closed = {false};
    Runnable helper =
        () -> {
          synchronized (lock) {
            if (closed[0]) {
              return;
            }
            running[0]++;
          }
          try {
            work.run();
          } finally {
            synchronized (lock) {
              running[0]--;
              lock.notifyAll();
            }
          }
        };
    for (int i = 1; i < Math.min(parallel, items.size()); i++) {
      try {
        executor.execute(helper);
      } catch (RejectedExecutionException e) {
        break;
      }
    }
    work.run();
    synchronized (lock) {
      closed[0] = true;
      while (running[0] > 0) {
        try {
          lock.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          InterruptedIOException stop = new InterruptedIOException("interrupted");
          failure.compareAndSet(null, stop);
          throw stop;
        }
      }
    }
    Throwable f = failure.get();
    if (f instanceof IOException io) {
      throw io;
    }
    if (f instanceof RuntimeException re) {
      throw re;
    }
    if (f instanceof Error err) {
      throw err;
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
    d.put("blobsUploaded", Integer.toString(t == null ? 0 : t.sent.get()));
    d.put("blobsSkipped", Integer.toString(t == null ? 0 : t.skipped.get()));
    d.put("blobsMounted", Integer.toString(t == null ? 0 : t.mounted.get()));
    d.put("blobsStreamed", Integer.toString(t == null ? 0 : t.streamed.get()));
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
