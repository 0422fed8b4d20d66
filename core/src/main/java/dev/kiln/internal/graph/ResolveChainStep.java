package dev.kiln.internal.graph;

import dev.kiln.BakeException;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.ImageConfig;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.internal.keys.StatDigests;
import dev.kiln.internal.oci.OciLayoutReader;
import dev.kiln.internal.provision.OciBaseLayer;
import dev.kiln.spi.BaseImageProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Step 1: resolves a build into a chain of layer nodes, its base first (a rootfs layer, the layers of an OCI or
 * registry image, or another build's chain), then its own layers. Nodes are shared: the same layer on the same parent
 * with the same run configuration is one node, across all builds of one bake.
 */
final class ResolveChainStep {
  private final Services services;
  private final Contexts contexts;
  private final Map<List<Object>, Node> nodes = new HashMap<>();

  ResolveChainStep(Services services, Contexts contexts) {
    this.services = services;
    this.contexts = contexts;
  }

  Chain resolve(ImageBuild build) throws BakeException {
    Base base = build.base();
    Node top = null;
    ImageConfig baseConfig = ImageConfig.empty();
    List<Integer> bases = new ArrayList<>();
    String description;
    switch (base.kind()) {
      case SCRATCH -> description = "scratch";
      case ROOTFS -> {
        Path p = base.path().orElseThrow();
        Layer l = Files.isDirectory(p) ? Layer.files("rootfs").addTree(p, "/") : Layer.tar(p).named("rootfs");
        if (!Files.exists(p)) {
          throw new ProvisioningException("rootfs", "root file system '" + p + "' does not exist");
        }
        top = node(null, l, ImageConfig.empty());
        bases.add(1);
        description = "rootfs";
      }
      case OCI -> {
        OciLayoutReader.Image img;
        try {
          img = OciLayoutReader.read(base.path().orElseThrow(), base.reference().orElseThrow());
        } catch (IOException e) {
          throw new ProvisioningException("base", "cannot read OCI base: " + e.getMessage(), e);
        }
        top = imageLayers(img);
        baseConfig = img.runtimeConfig();
        bases.add(img.layers().size());
        description = "oci " + img.manifest();
      }
      case BUILD -> {
        ImageBuild other = base.build().orElseThrow();
        Chain c = resolve(other);
        top = c.top();
        baseConfig = other.config().over(c.baseConfig());
        bases.addAll(c.bases());
        int n = Node.depth(c.top());
        if (n > 0 && (bases.isEmpty() || bases.get(bases.size() - 1) != n)) {
          bases.add(n);
        }
        description = c.baseDescription();
      }
      case IMAGE -> {
        String ref = base.reference().orElseThrow();
        BaseImageProvider.PulledImage pulled =
            services.registry().baseImages(ref).pull(ref, contexts.keyContext(new StatDigests(services.statIndex())));
        OciLayoutReader.Image img;
        try {
          img = OciLayoutReader.read(pulled.layout(), pulled.tag());
        } catch (IOException e) {
          throw new ProvisioningException("base", "cannot read pulled base " + ref + ": " + e.getMessage(), e);
        }
        top = imageLayers(img);
        baseConfig = img.runtimeConfig();
        bases.add(img.layers().size());
        description = "image " + ref + "@" + pulled.manifest();
      }
      default -> throw new IllegalStateException(base.kind().toString());
    }
    ImageConfig runConfig = runConfig(baseConfig);
    for (Layer l : build.layers()) {
      top = node(top, l, runConfig);
    }
    bases.removeIf(b -> b <= 0);
    return new Chain(top, baseConfig, description, List.copyOf(bases));
  }

  /** The layers of an image read from an OCI layout, as nodes used as they are. */
  private Node imageLayers(OciLayoutReader.Image img) {
    Node top = null;
    int i = 0;
    for (OciLayoutReader.BlobLayer bl : img.layers()) {
      top = node(top, new OciBaseLayer("base-" + (i++), bl.blob(), bl.digest(), bl.diffId(), bl.mediaType()), ImageConfig.empty());
    }
    return top;
  }

  private Node node(Node parent, Layer layer, ImageConfig runConfig) {
    return nodes.computeIfAbsent(Arrays.asList(parent == null ? "" : parent, layer, runConfig), k -> new Node(parent, layer, runConfig));
  }

  /**
   * What of the base's configuration applies while a layer runs in it, as ENV and WORKDIR apply to a Dockerfile's
   * RUN: the environment and the working directory. Not the user (layers run as root unless they say otherwise)
   * nor the entrypoint (the runner starts its own shell).
   */
  private static ImageConfig runConfig(ImageConfig base) {
    ImageConfig c = ImageConfig.empty();
    for (Map.Entry<String, String> e : base.env().entrySet()) {
      c = c.env(e.getKey(), e.getValue());
    }
    return base.workdir().isPresent() ? c.workdir(base.workdir().get()) : c;
  }
}
