package dev.kiln.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.Platform;
import dev.kiln.ProvisioningException;
import dev.kiln.UriTarget;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.BaseImageProvider;
import dev.kiln.spi.IndexPlatforms;
import dev.kiln.spi.KeyContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Resolves {@code Base.image("docker://HOST[:PORT]/REPO:TAG")} (or {@code @sha256:…}) from a
 * registry: the manifest (for an image index, the image of the platform baked), the config and the
 * layer blobs, each verified against its digest, into a cache shared by bakes ({@code
 * $KILN_PULL_CACHE}, else {@code $XDG_CACHE_HOME/kiln-pulls}, else {@code ~/.cache/kiln-pulls}),
 * and hands the engine an OCI layout of the image in the bake's temp area. A base pinned by digest
 * whose blobs are cached needs no network at all; a tag costs one manifest request. The image
 * record holds the digest the reference resolved to. Options as for {@link RegistryTarget}: {@code
 * ?insecure=true}, and credentials from the Docker configuration. Thread-safe.
 */
public final class RegistryBaseImages implements BaseImageProvider {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String TAG = "base";

  private final Path cache;

  /** The provider with the default cache directory. */
  public RegistryBaseImages() {
    this(defaultCache());
  }

  /** The provider with its blob cache in {@code cache}. */
  public RegistryBaseImages(Path cache) {
    this.cache = cache.toAbsolutePath().normalize();
  }

  static Path defaultCache() {
    String env = System.getenv("KILN_PULL_CACHE");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isBlank()) {
      return Path.of(xdg, "kiln-pulls");
    }
    return Path.of(System.getProperty("user.home"), ".cache", "kiln-pulls");
  }

  @Override
  public Set<String> schemes() {
    return Set.of("docker");
  }

  @Override
  public PulledImage pull(String reference, KeyContext ctx) throws BakeException {
    return pull(reference, Platform.LINUX_AMD64, ctx);
  }

  @Override
  public PulledImage pull(String reference, Platform platform, KeyContext ctx)
      throws BakeException {
    ImageReference ref;
    boolean plainHttp;
    try {
      UriTarget u = UriTarget.parse(reference);
      ref = ImageReference.parse(u.reference());
      plainHttp = RegistryTarget.plainHttp(ref, u);
    } catch (IllegalArgumentException e) {
      throw new ProvisioningException("base", e.getMessage(), e);
    }
    RegistryClient client = Registries.client(ref, plainHttp, null);
    String repo = ref.repository();
    try {
      Files.createDirectories(blobs());
      byte[] top;
      String topType;
      Digest topDigest;
      if (ref.digest() != null && Files.isRegularFile(blob(ref.digest()))) {
        top = read(ref.digest());
        topType = JSON.readTree(top).path("mediaType").asText(RegistryClient.OCI_MANIFEST);
        topDigest = ref.digest();
      } else {
        RegistryClient.Manifest m = client.manifest(repo, ref.manifestReference());
        if (ref.digest() != null && !m.digest().equals(ref.digest())) {
          throw new ProvisioningException(
              "base",
              "registry "
                  + ref.registry()
                  + " answered "
                  + repo
                  + "@"
                  + ref.digest()
                  + " with a manifest whose digest is "
                  + m.digest());
        }
        top = m.bytes();
        topType = m.mediaType();
        topDigest = m.digest();
        put(topDigest, top);
      }
      byte[] manifest = top;
      String manifestType = topType;
      Digest manifestDigest = topDigest;
      JsonNode topJson = JSON.readTree(top);
      if (topType.equals(RegistryClient.OCI_INDEX)
          || topType.equals(RegistryClient.DOCKER_LIST)
          || topJson.has("manifests")) {
        JsonNode index = topJson;
        JsonNode chosen =
            IndexPlatforms.choose(index, platform)
                .orElseThrow(
                    () ->
                        new ProvisioningException(
                            "base",
                            reference
                                + " is an image index without a "
                                + platform
                                + " image (it offers "
                                + String.join(", ", IndexPlatforms.offered(index))
                                + ")"));
        manifestDigest = Digest.parse(chosen.path("digest").asText());
        manifestType = chosen.path("mediaType").asText(RegistryClient.OCI_MANIFEST);
        manifest = fetchSmall(client, repo, manifestDigest, true);
      }
      JsonNode mj = JSON.readTree(manifest);
      Digest config = Digest.parse(mj.path("config").path("digest").asText());
      fetchSmall(client, repo, config, false);
      List<Digest> layers = new ArrayList<>();
      for (JsonNode l : mj.path("layers")) {
        layers.add(Digest.parse(l.path("digest").asText()));
      }
      for (Digest d : layers) {
        fetchBlob(client, repo, d, ctx, reference);
        Registries.seen(ref.registry(), d, repo);
      }
      Path layout = ctx.newTempDirectory().resolve("base");
      Path lb = layout.resolve("blobs").resolve("sha256");
      Files.createDirectories(lb);
      Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
      OciJson.Index index =
          new OciJson.Index(
              2,
              RegistryClient.OCI_INDEX,
              List.of(
                  new OciJson.Descriptor(
                      manifestType,
                      manifestDigest.toString(),
                      manifest.length,
                      Map.of("org.opencontainers.image.ref.name", TAG))));
      Files.write(layout.resolve("index.json"), OciJson.write(index));
      List<Digest> all = new ArrayList<>(layers);
      all.add(config);
      all.add(manifestDigest);
      for (Digest d : all) {
        link(blob(d), lb.resolve(d.hex()));
      }
      return new PulledImage(layout, TAG, topDigest);
    } catch (IOException e) {
      throw new ProvisioningException(
          "base", "could not pull " + reference + ": " + e.getMessage(), e);
    }
  }

  private Path blobs() {
    return cache.resolve("blobs").resolve("sha256");
  }

  private Path blob(Digest d) {
    return blobs().resolve(d.hex());
  }

  private byte[] read(Digest d) throws IOException {
    byte[] b = Files.readAllBytes(blob(d));
    if (!Digest.of(b).equals(d)) {
      Files.deleteIfExists(blob(d));
      throw new IOException("cached blob " + d + " was corrupt and has been removed; pull again");
    }
    return b;
  }

  /** A manifest or config: from the cache if there, else fetched and cached. */
  private byte[] fetchSmall(RegistryClient client, String repo, Digest d, boolean manifest)
      throws IOException {
    if (Files.isRegularFile(blob(d))) {
      return read(d);
    }
    byte[] b;
    if (manifest) {
      b = client.manifest(repo, d.toString()).bytes();
    } else {
      try (InputStream in = client.openBlob(repo, d)) {
        b = in.readAllBytes();
      }
    }
    if (!Digest.of(b).equals(d)) {
      throw new IOException(
          "registry "
              + client.registry()
              + " sent "
              + repo
              + "@"
              + d
              + " with the wrong content (digest "
              + Digest.of(b)
              + ")");
    }
    put(d, b);
    return b;
  }

  private void fetchBlob(
      RegistryClient client, String repo, Digest d, KeyContext ctx, String reference)
      throws IOException {
    Path target = blob(d);
    if (Files.isRegularFile(target)) {
      return;
    }
    Path tmp = blobs().resolve(".tmp-" + d.hex() + "-" + UUID.randomUUID());
    try {
      try (InputStream in = client.openBlob(repo, d);
          HashingInputStream h = new HashingInputStream(Hashing.sha256(), in);
          OutputStream out = Files.newOutputStream(tmp)) {
        byte[] buf = new byte[1 << 16];
        long done = 0;
        int n;
        while ((n = h.read(buf)) > 0) {
          out.write(buf, 0, n);
          done += n;
          if ((done & ((1 << 22) - 1)) < n) {
            ctx.emit(new BakeEvent.BytesWritten(reference, done, -1));
          }
        }
        String actual = h.hash().toString();
        if (!actual.equals(d.hex())) {
          throw new IOException(
              "registry "
                  + client.registry()
                  + " sent blob "
                  + d
                  + " with the wrong content (sha256:"
                  + actual
                  + ")");
        }
      }
      move(tmp, target);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private void put(Digest d, byte[] b) throws IOException {
    Path target = blob(d);
    if (Files.isRegularFile(target)) {
      return;
    }
    Path tmp = blobs().resolve(".tmp-" + d.hex() + "-" + UUID.randomUUID());
    try {
      Files.write(tmp, b);
      move(tmp, target);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static void move(Path tmp, Path target) throws IOException {
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (FileAlreadyExistsException e) {
      // another process put the same content
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Hard-links a cached blob into the layout (same file system), else a symbolic link. */
  private static void link(Path cached, Path into) throws IOException {
    try {
      Files.createLink(into, cached);
    } catch (IOException | UnsupportedOperationException e) {
      Files.createSymbolicLink(into, cached);
    }
  }
}
