package dev.kiln.internal.graph;

import dev.kiln.BakeException;
import dev.kiln.Layer;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.keys.StatDigests;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.Provisioner;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Step 2: lets each layer's provisioner prepare it (hash its inputs through the stat index), every
 * distinct layer once and in parallel, and reports {@link BakeEvent.InputsHashed} per layer.
 */
final class PrepareLayersStep {
  private final Services services;
  private final BakeScope scope;
  private final Contexts contexts;
  private final Map<Layer, CompletableFuture<PreparedLayer>> preparing = new ConcurrentHashMap<>();

  PrepareLayersStep(Services services, BakeScope scope, Contexts contexts) {
    this.services = services;
    this.scope = scope;
    this.contexts = contexts;
  }

  void run(List<Chain> chains) throws BakeException {
    List<Node> all = new ArrayList<>();
    for (Chain c : chains) {
      for (Node n = c.top(); n != null; n = n.parent) {
        all.add(n);
      }
    }
    Map<Node, CompletableFuture<PreparedLayer>> perNode = new HashMap<>();
    for (Node n : all) {
      if (perNode.containsKey(n)) {
        continue;
      }
      Provisioner p = services.registry().provisioner(n.layer);
      CompletableFuture<PreparedLayer> f =
          preparing.computeIfAbsent(
              n.layer,
              l ->
                  scope.async(
                      () -> {
                        StatDigests d = new StatDigests(services.statIndex());
                        PreparedLayer prepared = p.prepare(l, contexts.keyContext(d));
                        services.emit(
                            new BakeEvent.InputsHashed(
                                l.name(), l.kind(), d.checked(), d.read(), d.bytesRead()));
                        return prepared;
                      }));
      perNode.put(n, f);
    }
    for (Map.Entry<Node, CompletableFuture<PreparedLayer>> e : perNode.entrySet()) {
      e.getKey().prepared = BakeScope.join(e.getValue());
    }
  }
}
