package dev.kiln.internal.registry;

import dev.kiln.InvalidTargetException;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.Target;
import dev.kiln.internal.provision.FilesProvisioner;
import dev.kiln.internal.provision.OciBaseLayer;
import dev.kiln.internal.provision.OciBaseProvisioner;
import dev.kiln.spi.BaseImageProvider;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.Provisioner;
import dev.kiln.spi.ProvisionerProvider;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RemoteCacheProvider;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.slf4j.LoggerFactory;

/**
 * Provisioners by layer kind and image store providers by target scheme: the ones passed in code
 * first, then those found with {@link ServiceLoader}. A miss names what was asked, everything
 * found, and the module to add. Immutable after construction; thread-safe.
 */
public final class Registry {
  /** Which module brings which layer kind or target scheme, for error messages. */
  private static final Map<String, String> MODULES =
      Map.ofEntries(
          Map.entry("run", "dev.kiln:kiln-provider-docker"),
          Map.entry("packages", "dev.kiln:kiln-provider-docker"),
          Map.entry("ansible", "dev.kiln:kiln-provider-docker"),
          Map.entry("docker-daemon", "dev.kiln:kiln-provider-docker"),
          Map.entry("docker", "dev.kiln:kiln-provider-docker"),
          Map.entry("ec2", "dev.kiln:kiln-provider-ec2"),
          Map.entry("vmdk", "dev.kiln:kiln-provider-vmware"),
          Map.entry("ova", "dev.kiln:kiln-provider-vmware"),
          Map.entry("ovf", "dev.kiln:kiln-provider-vmware"),
          Map.entry("vsphere", "dev.kiln:kiln-provider-vmware"),
          Map.entry("s3", "dev.kiln:kiln-cache-s3"));

  private final Map<String, Provisioner> provisioners = new TreeMap<>();
  private final Map<String, ImageStoreProvider> stores = new TreeMap<>();
  private final Map<Class<?>, Object> capabilities = new LinkedHashMap<>();
  private final Map<String, BaseImageProvider> baseImages = new TreeMap<>();

  /**
   * The provisioners this registry created (discovered ones); those passed in code belong to the
   * caller.
   */
  private final List<Provisioner> owned = new ArrayList<>();

  public Registry(
      List<Provisioner> explicitProvisioners,
      List<ImageStoreProvider> explicitStores,
      List<Object> capabilities,
      ClassLoader loader) {
    for (ProvisionerProvider pp : ServiceLoader.load(ProvisionerProvider.class, loader)) {
      for (Provisioner p : pp.provisioners()) {
        if (provisioners.putIfAbsent(p.kind(), p) == null) {
          owned.add(p);
        }
      }
    }
    provisioners.put(OciBaseLayer.KIND, new OciBaseProvisioner());
    for (Provisioner p : explicitProvisioners) {
      provisioners.put(p.kind(), p);
    }
    for (ImageStoreProvider sp : ServiceLoader.load(ImageStoreProvider.class, loader)) {
      for (String s : sp.schemes()) {
        stores.putIfAbsent(s, sp);
      }
    }
    for (ImageStoreProvider sp : explicitStores) {
      for (String s : sp.schemes()) {
        stores.put(s, sp);
      }
    }
    for (BaseImageProvider bp : ServiceLoader.load(BaseImageProvider.class, loader)) {
      for (String s : bp.schemes()) {
        baseImages.putIfAbsent(s, bp);
      }
    }
    for (Object c : capabilities) {
      this.capabilities.put(c.getClass(), c);
    }
  }

  public Provisioner provisioner(Layer layer) throws ProvisioningException {
    Provisioner p = provisioners.get(layer.kind());
    if (p == null) {
      List<String> found = new ArrayList<>(provisioners.keySet());
      found.remove(OciBaseLayer.KIND);
      String module = MODULES.get(layer.kind());
      throw new ProvisioningException(
          layer.name(),
          "no provisioner for layer kind '"
              + layer.kind()
              + "'"
              + (module != null ? ": add " + module + " to the classpath" : "")
              + " (provisioners found: "
              + String.join(", ", found)
              + ")");
    }
    return p;
  }

  /** The provider that fetches base images with this reference's scheme. */
  public BaseImageProvider baseImages(String reference) throws ProvisioningException {
    String scheme = reference.substring(0, Math.max(0, reference.indexOf(':')));
    BaseImageProvider p = baseImages.get(scheme);
    if (p == null) {
      String module = MODULES.get(scheme);
      throw new ProvisioningException(
          "base",
          "no provider fetches base images '"
              + reference
              + "'"
              + (module != null ? ": add " + module + " to the classpath" : "")
              + " (base image schemes found: "
              + String.join(", ", baseImages.keySet())
              + ")");
    }
    return p;
  }

  /** The store for a target. */
  public ImageStore store(Target target) {
    ImageStoreProvider p = stores.get(target.scheme());
    if (p == null) {
      String module = MODULES.get(target.scheme());
      throw new InvalidTargetException(
          "unknown target scheme '"
              + target.scheme()
              + "' in '"
              + target
              + "'"
              + (module != null ? ": add " + module + " to the classpath" : "")
              + " (schemes found: "
              + String.join(", ", stores.keySet())
              + ")");
    }
    return p.create(target);
  }

  /**
   * The remote cache for a URI, from the {@link RemoteCacheProvider}s found with {@link
   * ServiceLoader}.
   *
   * @throws IllegalArgumentException when no provider handles the scheme (the message lists those
   *     found)
   */
  public static RemoteCache remoteCache(String uri, ClassLoader loader) {
    URI u;
    try {
      u = new URI(uri);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "remote cache '" + uri + "' is not a URI: " + e.getMessage(), e);
    }
    String scheme = u.getScheme() == null ? "" : u.getScheme();
    Map<String, RemoteCacheProvider> found = new TreeMap<>();
    for (RemoteCacheProvider p : ServiceLoader.load(RemoteCacheProvider.class, loader)) {
      for (String s : p.schemes()) {
        found.putIfAbsent(s, p);
      }
    }
    RemoteCacheProvider p = found.get(scheme);
    if (p == null) {
      String module = MODULES.get(scheme);
      throw new IllegalArgumentException(
          "unknown remote cache scheme '"
              + scheme
              + "' in '"
              + uri
              + "'"
              + (module != null ? ": add " + module + " to the classpath" : "")
              + " (remote cache schemes found: "
              + (found.isEmpty() ? "none" : String.join(", ", found.keySet()))
              + "; dev.kiln:kiln-provider-docker brings docker://, dev.kiln:kiln-cache-s3 brings s3://)");
    }
    return p.create(u);
  }

  /** The schemes that have a store. */
  public List<String> schemes() {
    return List.copyOf(stores.keySet());
  }

  /**
   * Lets the core {@code files} provisioner, when it is the one in use, watch the trees it walks
   * (see FilesProvisioner).
   */
  public void watchTrees() {
    if (provisioners.get("files") instanceof FilesProvisioner fp && owned.contains(fp)) {
      fp.watchTrees();
    }
  }

  /** Closes the provisioners this registry created that hold resources (watches, threads). */
  public void close() {
    for (Provisioner p : owned) {
      if (p instanceof AutoCloseable c) {
        try {
          c.close();
        } catch (Exception e) {
          LoggerFactory.getLogger(Registry.class)
              .warn("closing provisioner '{}' failed: {}", p.kind(), e.toString());
        }
      }
    }
  }

  public <C> Optional<C> capability(Class<C> type) {
    for (Object c : capabilities.values()) {
      if (type.isInstance(c)) {
        return Optional.of(type.cast(c));
      }
    }
    return Optional.empty();
  }
}
