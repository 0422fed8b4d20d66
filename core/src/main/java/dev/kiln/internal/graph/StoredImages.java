package dev.kiln.internal.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.internal.keys.LayerKeys;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.oci.OciImages;
import dev.kiln.internal.oci.OciLayoutReader;
import dev.kiln.internal.provision.OciBaseLayer;
import dev.kiln.internal.registry.Registry;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.CorruptBlobException;
import dev.kiln.spi.ImageStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Publishes images that are already in the local store, or in another OCI image layout, to targets
 * without baking them: the promotion step of a pipeline. The manifest, config and layer blobs are
 * the stored bytes, so every target receives exactly the image (and digest) that was baked.
 * Thread-safe.
 */
public final class StoredImages {
  private final LocalStore store;
  private final Registry registry;
  private final Engine engine;

  public StoredImages(LocalStore store, Registry registry, Engine engine) {
    this.store = store;
    this.registry = registry;
    this.engine = engine;
  }

  /** Publishes the stored image {@code image} to every target, as the last step of a bake would. */
  public Map<String, PublishedImage> publish(Digest image, List<Target> targets)
      throws BakeException {
    Map<String, ImageStore> stores = stores(targets);
    StoredImage stored = read(image);
    try {
      return engine.publish(stored, stores);
    } catch (BakeException e) {
      throw evictIfCorrupt(e, image);
    }
  }

  /**
   * Copies the image tagged {@code tag} in the OCI layout at {@code layout} into the store, each
   * blob checked against its digest, and tags it there by its digest hex. The image keeps its
   * manifest digest, which is returned.
   */
  public Digest importImage(Path layout, String tag) throws BakeException {
    OciLayoutReader.Image img;
    try {
      img = OciLayoutReader.read(layout.toAbsolutePath().normalize(), tag);
    } catch (IOException e) {
      throw new BakeException("cannot read oci:" + layout + ":" + tag + ": " + e.getMessage(), e);
    }
    try {
      for (OciLayoutReader.BlobLayer l : img.layers()) {
        if (!store.verified(l.digest(), l.size())) {
          importBlob(l.blob(), l.digest());
        }
      }
      Path blobs = layout.resolve("blobs").resolve("sha256");
      byte[] manifest = Files.readAllBytes(blobs.resolve(img.manifest().hex()));
      JsonNode m = Json.read(manifest);
      Digest configDigest = Digest.parse(m.path("config").path("digest").asText());
      if (!store
          .putBlob(Files.readAllBytes(blobs.resolve(configDigest.hex())))
          .equals(configDigest)) {
        throw new BakeException(
            "config " + configDigest + " in " + layout + " does not match its digest");
      }
      Digest stored = store.putBlob(manifest);
      if (!stored.equals(img.manifest())) {
        throw new BakeException(
            "manifest " + img.manifest() + " in " + layout + " does not match its digest");
      }
      store.tag(img.manifest(), manifest.length, img.manifest().hex());
      return img.manifest();
    } catch (IOException e) {
      throw new BakeException(
          "cannot copy oci:"
              + layout
              + ":"
              + tag
              + " into the store at "
              + store.root()
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /**
   * Tags the stored image {@code image} in the store's {@code index.json} as {@code name}, moving
   * the tag from the image it named before, so that {@code oci:STORE:name} names it for other
   * tools.
   */
  public void tag(Digest image, String name) throws BakeException {
    if (name == null
        || !name.matches("[A-Za-z0-9]+([._+/-][A-Za-z0-9]+)*")
        || name.matches("[0-9a-f]{64}")) {
      throw new IllegalArgumentException(
          "'"
              + name
              + "' cannot name an image in the store: use letters, digits and"
              + " . _ + / - between them (a 64-digit hex name is the digest tag Kiln gives every image)");
    }
    StoredImage stored = read(image);
    try {
      store.tag(image, stored.manifest().length, name);
    } catch (IOException e) {
      throw new BakeException(
          "cannot tag "
              + image
              + " as '"
              + name
              + "' in the store at "
              + store.root()
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /**
   * Resolves every target before anything is read or written: an unknown or malformed one fails
   * first.
   */
  private Map<String, ImageStore> stores(List<Target> targets) {
    Map<String, ImageStore> m = new LinkedHashMap<>();
    for (Target t : targets) {
      m.put(t.toString(), registry.store(t));
    }
    return m;
  }

  private BakeException evictIfCorrupt(BakeException e, Digest image) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof CorruptBlobException cbe) {
        try {
          store.evict(cbe.expected());
        } catch (IOException io) {
          e.addSuppressed(io);
        }
        return new BakeException(
            "image "
                + image
                + " in the store at "
                + store.root()
                + " is damaged ("
                + cbe.getMessage()
                + "); the damaged blob was removed: bake the image again to restore it",
            e);
      }
    }
    return e;
  }

  /**
   * The stored image: its manifest and config as stored, its layers named as its record names them.
   */
  StoredImage read(Digest image) throws BakeException {
    try {
      if (!store.hasBlob(image)) {
        throw new BakeException(
            "no image "
                + image
                + " in the store at "
                + store.root()
                + ": bake it into this store first, or copy it from an OCI layout");
      }
      byte[] manifest = store.readBlob(image);
      JsonNode m = Json.read(manifest);
      if (!m.path("config").path("digest").isTextual() || !m.path("layers").isArray()) {
        throw new BakeException(
            image + " in the store at " + store.root() + " is not an image manifest");
      }
      Digest configDigest = Digest.parse(m.path("config").path("digest").asText());
      byte[] config = store.readBlob(configDigest);
      JsonNode c = Json.read(config);
      JsonNode diffIds = c.path("rootfs").path("diff_ids");
      JsonNode ls = m.path("layers");
      if (diffIds.size() != ls.size()) {
        throw new BakeException(
            "image "
                + image
                + " lists "
                + ls.size()
                + " layers but "
                + diffIds.size()
                + " diff_ids");
      }
      Optional<ImageRecord> record = record(image);
      List<LayerRecord> recorded = record.map(ImageRecord::layers).orElse(List.of());
      boolean named = recorded.size() == ls.size();
      List<LayerRecord> layers = new ArrayList<>();
      for (int i = 0; i < ls.size(); i++) {
        JsonNode l = ls.get(i);
        Digest digest = Digest.parse(l.path("digest").asText());
        Digest diffId = Digest.parse(diffIds.get(i).asText());
        LayerRecord r = named && digest.equals(recorded.get(i).digest()) ? recorded.get(i) : null;
        String name = r != null ? r.name() : "layer-" + i;
        String kind = r != null ? r.kind() : OciBaseLayer.KIND;
        Digest key = r != null && r.key() != null ? r.key() : LayerKeys.imported(digest);
        long uncompressed = r != null ? r.uncompressedSize() : -1;
        String media = l.path("mediaType").asText(LayerRecord.GZIP_LAYER);
        layers.add(
            new LayerRecord(
                name,
                kind,
                key,
                diffId,
                digest,
                l.path("size").asLong(),
                uncompressed,
                media,
                List.of(),
                Map.of()));
      }
      ImageConfig runtime = OciImages.runtimeConfig(c);
      Digest key =
          record
              .map(ImageRecord::key)
              .orElse(
                  layers.isEmpty()
                      ? LayerKeys.imported(image)
                      : layers.get(layers.size() - 1).key());
      return new StoredImage(
          store,
          image,
          manifest,
          configDigest,
          config,
          runtime,
          layers,
          key,
          bases(record, layers));
    } catch (CorruptBlobException e) {
      try {
        store.evict(e.expected());
      } catch (IOException io) {
        e.addSuppressed(io);
      }
      throw new BakeException(
          "image "
              + image
              + " in the store at "
              + store.root()
              + " is damaged ("
              + e.getMessage()
              + "); the damaged blob was removed: bake the image again to restore it",
          e);
    } catch (IOException | RuntimeException e) {
      throw new BakeException(
          "cannot read image "
              + image
              + " from the store at "
              + store.root()
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /**
   * The image record, or none when the image was not baked here (or its record is unreadable, or
   * about another image).
   */
  private Optional<ImageRecord> record(Digest image) {
    try {
      ImageRecord r = ImageRecord.read(Files.readAllBytes(store.recordPath(image)));
      return Optional.ofNullable(r).filter(x -> image.equals(x.image()));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /**
   * Where the image's bases end, as far as its record tells: a root file system is one layer, an
   * OCI or registry base as many layers as it brought. Disk targets lay the disk out along these
   * boundaries.
   */
  private static List<Integer> bases(Optional<ImageRecord> record, List<LayerRecord> layers) {
    String base = record.map(ImageRecord::base).orElse("");
    if (base.equals("rootfs") && !layers.isEmpty()) {
      return List.of(1);
    }
    if (base.startsWith("oci ") || base.startsWith("image ")) {
      int n = (int) layers.stream().filter(l -> l.kind().equals(OciBaseLayer.KIND)).count();
      return n > 0 ? List.of(n) : List.of();
    }
    return List.of();
  }

  private void importBlob(Path source, Digest digest) throws IOException {
    Path tmp = store.newTempFile(".import");
    try {
      String actual;
      try (InputStream in = Files.newInputStream(source);
          HashingInputStream h = new HashingInputStream(Hashing.sha256(), in);
          OutputStream out = Files.newOutputStream(tmp)) {
        h.transferTo(out);
        actual = h.hash().toString();
      } catch (NoSuchFileException e) {
        throw new IOException("blob " + digest + " is missing (" + source + ")", e);
      }
      if (!actual.equals(digest.hex())) {
        throw new IOException(
            "blob "
                + source
                + " does not match its digest "
                + digest
                + " (it hashes to sha256:"
                + actual
                + ")");
      }
      store.commitBlob(tmp, digest);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
