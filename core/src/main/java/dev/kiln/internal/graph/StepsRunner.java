package dev.kiln.internal.graph;

import dev.kiln.Attestation;
import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.internal.keys.LayerKeys;
import dev.kiln.spi.ImageStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One bake call, step by step: resolve every build into a chain, prepare its layers, compute their
 * keys, start provisioning all chains at once (shared layers once, independent ones in parallel),
 * then per build, in order: assemble the image, write its record, publish it and write the
 * documents asked for about it (SBOMs, provenance); finally wait for the pushes to the remote
 * cache.
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
  private final PublishStep publish;
  private final AttestStep attest;

  StepsRunner(Services services) {
    this.services = services;
    this.scope = new BakeScope(services);
    Contexts contexts = new Contexts(services, scope);
    this.resolve = new ResolveChainStep(services, contexts);
    this.prepare = new PrepareLayersStep(services, scope, contexts);
    this.keys = new ComputeKeysStep();
    this.assemble = new AssembleImageStep(services);
    this.provision = new ProvisionLayerStep(services, scope, contexts, assemble);
    this.record = new WriteRecordStep(services);
    this.publish = new PublishStep(services, scope, contexts);
    this.attest = new AttestStep(services);
  }

  List<BakeResult> run(
      List<Engine.Request> requests, Map<Engine.Request, Map<String, ImageStore>> stores)
      throws BakeException {
    List<Chain> chains = new ArrayList<>();
    for (Engine.Request r : requests) {
      chains.add(resolve.resolve(r.build()));
    }
    prepare.run(chains);
    for (Chain c : chains) {
      keys.run(c);
    }
    for (Chain c : chains) {
      provision.schedule(c.top());
    }
    List<BakeResult> results = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      Engine.Request r = requests.get(i);
      Chain c = chains.get(i);
      List<LayerRecord> layers = provision.await(c.top());
      ImageConfig config = r.build().config().over(c.baseConfig());
      StoredImage image =
          assemble.run(
              layers,
              config,
              c.top() == null ? LayerKeys.base(c.baseDescription()) : c.top().key,
              c.bases());
      Path recordPath = record.run(image, c);
      Map<String, PublishedImage> published = publish.run(image, stores.get(r));
      List<Attestation> attestations = attest.run(image, c, published);
      List<String> mine =
          layers.stream().map(LayerRecord::name).filter(provision::provisioned).toList();
      List<String> remoteHits =
          layers.stream().map(LayerRecord::name).filter(provision::pulled).toList();
      results.add(
          new BakeResult(
              image.digest(),
              image.configDigest(),
              image.key(),
              layers,
              mine,
              published,
              recordPath,
              remoteHits,
              attestations));
    }
    scope.awaitPushes();
    services.diskCache().awaitPushes();
    return results;
  }

  /** Only the last step: publishes an image already in the store to the targets. */
  Map<String, PublishedImage> publish(StoredImage image, Map<String, ImageStore> targets)
      throws BakeException {
    return publish.run(image, targets);
  }

  /** Cancels what is still running in the background and removes the bake's temp directories. */
  void cleanUp() {
    scope.cleanUp();
  }
}
