package dev.kiln.internal.graph;

import dev.kiln.BakeException;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.ImageConfig;
import dev.kiln.Layer;
import dev.kiln.Platform;
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
 * Step 1: resolves a build into a chain of layer nodes, its base first (a rootfs layer, the layers
 * of an OCI or registry image, or another build's chain), then its own layers. Nodes are shared:
 * the same layer on the same parent with the same run configuration is one node, across all builds
 * of one bake.
 */
final class ResolveChainStep {
  private final Services services;
  private final Contexts contexts;
  private final Map<List<Object>, Node> nodes = new HashMap<>();

  ResolveChainStep(Services services, Contexts contexts) {
    this.services = services;
    this.contexts = contexts;
  }

  /** The chain of {@code build} baked for {@code platform}. */
  Chain resolve(ImageBuild build, Platform platform) throws BakeException {
    Chain base = base(build.base(), platform);
    Node top = base.top();
    ImageConfig runConfig = runConfig(base.baseConfig());
    for (Layer l : build.layers()) {
      top = node(top, l, runConfig, platform);
    }
    List<Integer> bases = new ArrayList<>(base.bases());
    bases.removeIf(b -> b <= 0);
    return new Chain(top, base.baseConfig(), base.baseDescription(), List.copyOf(bases));
  }

  /** The chain a base brings, before the build's own layers. */
  private Chain base(Base base, Platform platform) throws BakeException {
    if (base instanceof Base.ByPlatform b) {
      Base chosen =
          b.forPlatform(platform)
              .orElseThrow(
                  () ->
                      new ProvisioningException(
                          "base",
                          "the build has no base for "
                              + platform
                              + " (its bases: "
                              + b
                              + "): add one to Base.byPlatform or bake the platforms it has"));
      return base(chosen, platform);
    } else if (base instanceof Base.Scratch) {
      return new Chain(null, ImageConfig.empty(), "scratch", List.of());
    } else if (base instanceof Base.Rootfs r) {
      return rootfs(r.path(), platform);
    } else if (base instanceof Base.OciLayout o) {
      OciLayoutReader.Image img;
      try {
        img = OciLayoutReader.read(o.layout(), o.tag(), platform);
      } catch (IOException e) {
        throw new ProvisioningException("base", "cannot read OCI base: " + e.getMessage(), e);
      }
      return image(img, "oci " + img.manifest(), platform);
    } else if (base instanceof Base.RegistryImage i) {
      String ref = i.reference();
      BaseImageProvider.PulledImage pulled =
          services
              .registry()
              .baseImages(ref)
              .pull(ref, platform, contexts.keyContext(new StatDigests(services.statIndex())));
      OciLayoutReader.Image img;
      try {
        img = OciLayoutReader.read(pulled.layout(), pulled.tag(), platform);
      } catch (IOException e) {
        throw new ProvisioningException(
            "base", "cannot read pulled base " + ref + ": " + e.getMessage(), e);
      }
      return image(img, "image " + ref + "@" + pulled.manifest(), platform);
    } else {
      return otherBuild(((Base.FromBuild) base).build(), platform);
    }
  }

  private Chain rootfs(Path p, Platform platform) throws BakeException {
    Layer l =
        Files.isDirectory(p) ? Layer.files("rootfs").addTree(p, "/") : Layer.tar(p).named("rootfs");
    if (!Files.exists(p)) {
      throw new ProvisioningException("rootfs", "root file system '" + p + "' does not exist");
    }
    return new Chain(
        node(null, l, ImageConfig.empty(), platform), ImageConfig.empty(), "rootfs", List.of(1));
  }

  /**
   * Another build's chain and configuration; its layer count ends a base unless its own base ended
   * there.
   */
  private Chain otherBuild(ImageBuild other, Platform platform) throws BakeException {
    Chain c = resolve(other, platform);
    List<Integer> bases = new ArrayList<>(c.bases());
    int n = Node.depth(c.top());
    if (n > 0 && (bases.isEmpty() || bases.get(bases.size() - 1) != n)) {
      bases.add(n);
    }
    return new Chain(c.top(), other.config().over(c.baseConfig()), c.baseDescription(), bases);
  }

  /**
   * The layers of an image read from an OCI layout, as nodes used as they are, and its
   * configuration.
   */
  private Chain image(OciLayoutReader.Image img, String description, Platform platform) {
    Node top = null;
    int i = 0;
    for (OciLayoutReader.BlobLayer bl : img.layers()) {
      top =
          node(
              top,
              new OciBaseLayer(
                  "base-" + (i++), bl.blob(), bl.digest(), bl.diffId(), bl.mediaType()),
              ImageConfig.empty(),
              platform);
    }
    return new Chain(top, img.runtimeConfig(), description, List.of(img.layers().size()));
  }

  /**
   * The node of {@code layer} on {@code parent}, shared by every build of the bake that has it; per
   * platform, because a layer may run in its parent (two nodes of a layer that only adds files get
   * one key, and so one provisioning).
   */
  private Node node(Node parent, Layer layer, ImageConfig runConfig, Platform platform) {
    return nodes.computeIfAbsent(
        Arrays.asList(parent == null ? "" : parent, layer, runConfig, platform),
        k -> new Node(parent, layer, runConfig, platform));
  }

  /**
   * What of the base's configuration applies while a layer runs in it, as ENV and WORKDIR apply to
   * a Dockerfile's RUN: the environment and the working directory. Not the user (layers run as root
   * unless they say otherwise) nor the entrypoint (the runner starts its own shell).
   */
  private static ImageConfig runConfig(ImageConfig base) {
    ImageConfig c = ImageConfig.empty();
    for (Map.Entry<String, String> e : base.env().entrySet()) {
      c = c.env(e.getKey(), e.getValue());
    }
    return base.workdir().isPresent() ? c.workdir(base.workdir().get()) : c;
  }
}
