package dev.kiln.internal.graph;

import dev.kiln.Attestation;
import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import dev.kiln.PublishedImage;
import dev.kiln.internal.keys.LayerKeys;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.ImageStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One bake call, step by step: resolve every build into a chain per platform, prepare its layers,
 * compute their keys, start provisioning all chains at once (shared layers once, independent ones
 * in parallel), then per build, in order: assemble the image of each platform and write its record,
 * assemble the image index where there are several platforms, publish, write the documents asked
 * for about each image (SBOMs, provenance), and, with a signer, attach the signature and the signed
 * documents to the targets that hold them; finally wait for the pushes to the remote cache.
 */
final class StepsRunner {
  private final Services services;
  private final BakeScope scope;
  private final ResolveChainStep resolve;
  private final PrepareLayersStep prepare;
  private final ComputeKeysStep keys;
  private final AssembleImageStep assemble;
  private final ProvisionLayerStep provision;
  private final WriteRecordStep record;
  private final ImageTarsStep imageTars;
  private final PublishStep publish;
  private final LayerTars tars = new LayerTars();
  private final Contexts contexts;

  /** The images this bake assembled, by digest, for publishing. */
  private final Map<Digest, StoredImage> stored = new HashMap<>();

  private final AttestStep attest;
  private final AttachStep attach;

  StepsRunner(Services services) {
    this.services = services;
    this.scope = new BakeScope(services);
    LayerNotesBook notes = new LayerNotesBook(services.attest());
    this.contexts = new Contexts(services, scope, tars, notes);
    this.resolve = new ResolveChainStep(services, contexts);
    this.prepare = new PrepareLayersStep(services, scope, contexts);
    this.keys = new ComputeKeysStep(services);
    this.assemble = new AssembleImageStep(services);
    this.provision = new ProvisionLayerStep(services, scope, contexts, assemble);
    this.record = new WriteRecordStep(services);
    this.imageTars = new ImageTarsStep(services, provision, contexts);
    this.publish = new PublishStep(services, scope, contexts);
    this.attest = new AttestStep(services, notes);
    this.attach = new AttachStep(services, scope, contexts);
  }

  /**
   * Runs the bake; with {@code early} (one request of one platform, every target reading layers
   * uncompressed), its targets may name the image before it is assembled.
   */
  List<BakeResult> run(
      List<Engine.Request> requests,
      Map<Engine.Request, Map<String, ImageStore>> stores,
      EarlyNaming early)
      throws BakeException {
    // a target that reads layers uncompressed (the Docker daemon) gets the tars the layer writers
    // hash, kept until the bake ends, instead of inflating the stored blobs
    tars.keep(
        stores.values().stream()
            .flatMap(m -> m.values().stream())
            .anyMatch(ImageStore::readsUncompressedLayers));
    List<List<Chain>> chains = new ArrayList<>();
    List<Chain> all = new ArrayList<>();
    for (Engine.Request r : requests) {
      List<Chain> perPlatform = new ArrayList<>();
      for (Platform p : platforms(r.build())) {
        perPlatform.add(resolve.resolve(r.build(), p));
      }
      chains.add(perPlatform);
      all.addAll(perPlatform);
    }
    prepare.run(all);
    for (Chain c : all) {
      keys.run(c);
    }
    contexts.storesByKey(storesByKey(requests, chains, stores), platformsByKey(chains));
    for (Chain c : all) {
      provision.schedule(c.top());
    }
    if (tars.keep()) {
      for (int i = 0; i < requests.size(); i++) {
        Engine.Request r = requests.get(i);
        List<Platform> platforms = platforms(r.build());
        for (int p = 0; p < platforms.size(); p++) {
          Chain c = chains.get(i).get(p);
          imageTars.watch(
              c,
              r.build().config().over(c.baseConfig()),
              platforms.get(p),
              stores.get(r).values(),
              early);
        }
      }
    }
    List<BakeResult> results = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      Engine.Request r = requests.get(i);
      List<Platform> platforms = platforms(r.build());
      if (platforms.size() == 1) {
        Chain c = chains.get(i).get(0);
        BakeResult one = image(r, c, platforms.get(0));
        StoredImage image = stored.get(one.digest());
        Map<String, PublishedImage> published = publish.run(image, stores.get(r));
        List<Attestation> attestations = attest.run(image, c, published);
        attach.run(
            image.manifest(),
            Cosign.OCI_MANIFEST,
            Map.of(image.digest(), attestations),
            stores.get(r),
            published);
        results.add(one.published(published).attestations(attestations));
        continue;
      }
      Map<Platform, BakeResult> each = new LinkedHashMap<>();
      List<StoredImage> images = new ArrayList<>();
      for (int p = 0; p < platforms.size(); p++) {
        BakeResult one = image(r, chains.get(i).get(p), platforms.get(p));
        each.put(platforms.get(p), one);
        images.add(stored.get(one.digest()));
      }
      StoredIndex index = assemble.index(images);
      Map<String, PublishedImage> published = publish.runIndex(index, stores.get(r));
      Map<Digest, List<Attestation>> docs = new LinkedHashMap<>();
      for (int p = 0; p < platforms.size(); p++) {
        StoredImage image = images.get(p);
        List<Attestation> attestations = attest.run(image, chains.get(i).get(p), published);
        each.put(platforms.get(p), each.get(platforms.get(p)).attestations(attestations));
        docs.put(image.digest(), attestations);
      }
      attach.run(index.index(), Cosign.OCI_INDEX, docs, stores.get(r), published);
      results.add(BakeResult.ofPlatforms(index.digest(), each, published));
    }
    scope.awaitPushes();
    services.diskCache().awaitPushes();
    return results;
  }

  /** The stores each layer goes to, by key: those of every request whose chains hold it. */
  private static Map<Digest, List<ImageStore>> storesByKey(
      List<Engine.Request> requests,
      List<List<Chain>> chains,
      Map<Engine.Request, Map<String, ImageStore>> stores) {
    Map<Digest, List<ImageStore>> out = new HashMap<>();
    for (int i = 0; i < requests.size(); i++) {
      Collection<ImageStore> mine = stores.get(requests.get(i)).values();
      for (Chain c : chains.get(i)) {
        for (Node n = c.top(); n != null; n = n.parent) {
          List<ImageStore> l = out.computeIfAbsent(n.key, k -> new ArrayList<>());
          for (ImageStore s : mine) {
            if (l.stream().noneMatch(x -> x == s)) {
              l.add(s);
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * The platform of each layer of a build baked for several platforms, by key, for the layers that
   * belong to one platform's image only (a layer two images share, or that a build of one platform
   * also has, has none).
   */
  private static Map<Digest, Platform> platformsByKey(List<List<Chain>> chains) {
    Map<Digest, Set<Platform>> seen = new HashMap<>();
    for (List<Chain> perPlatform : chains) {
      for (Chain c : perPlatform) {
        for (Node n = c.top(); n != null; n = n.parent) {
          Set<Platform> s = seen.computeIfAbsent(n.key, k -> new HashSet<>());
          // a build of one platform: its layers go to its targets whatever their platform
          s.add(perPlatform.size() > 1 ? n.platform : null);
        }
      }
    }
    Map<Digest, Platform> out = new HashMap<>();
    seen.forEach(
        (key, platforms) -> {
          if (platforms.size() == 1 && !platforms.contains(null)) {
            out.put(key, platforms.iterator().next());
          }
        });
    return out;
  }

  /** The platforms a build is baked for: those it names, else the host's. */
  static List<Platform> platforms(ImageBuild build) {
    return build.platforms().isEmpty() ? List.of(Platform.host()) : build.platforms();
  }

  /** Waits for the chain's layers, assembles its image and writes its record; no publishing. */
  private BakeResult image(Engine.Request r, Chain c, Platform platform) throws BakeException {
    List<LayerRecord> layers = provision.await(c.top());
    ImageConfig config = r.build().config().over(c.baseConfig());
    StoredImage image =
        assemble.run(
            layers,
            config,
            c.top() == null ? LayerKeys.base(c.baseDescription()) : c.top().key,
            c.bases(),
            platform);
    stored.put(image.digest(), image);
    Path recordPath = record.run(image, c);
    List<String> mine =
        layers.stream().map(LayerRecord::name).filter(provision::provisioned).toList();
    List<String> remoteHits =
        layers.stream().map(LayerRecord::name).filter(provision::pulled).toList();
    return new BakeResult(
        image.digest(),
        image.configDigest(),
        image.key(),
        layers,
        mine,
        Map.of(),
        recordPath,
        remoteHits);
  }

  /**
   * Only the last steps: publishes an image already in the store to the targets and, with a signer,
   * signs it there (its documents are not written again, so none are attached).
   */
  Map<String, PublishedImage> publish(StoredImage image, Map<String, ImageStore> targets)
      throws BakeException {
    Map<String, PublishedImage> published = publish.run(image, targets);
    attach.run(image.manifest(), Cosign.OCI_MANIFEST, Map.of(), targets, published);
    return published;
  }

  /** What a target holds of an image and attached to it, for verifying. */
  AttestationSink.Attached attached(AttestationSink sink) throws BakeException {
    return sink.read(contexts.publishContext());
  }

  /** Cancels what is still running in the background and removes the bake's temp directories. */
  void cleanUp() {
    scope.cleanUp();
  }
}
