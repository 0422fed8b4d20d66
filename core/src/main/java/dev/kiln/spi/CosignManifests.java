package dev.kiln.spi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.SigningKey;
import java.io.IOException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The manifests {@link Cosign}'s formats travel in: the layers of a signature or attestation
 * manifest, the manifest itself with its {@code subject} and {@code artifactType}, reading one
 * back, merging new signatures and attestations into an existing one, checking a signature layer
 * against a key, and the referrers index of the referrers tag schema. Everything is written in a
 * fixed order, so the same input gives the same bytes.
 */
public final class CosignManifests {
  private static final ObjectMapper JSON = new ObjectMapper();

  private CosignManifests() {}

  /** One layer of a signature or attestation manifest. */
  public record Layer(String mediaType, byte[] content, Map<String, String> annotations) {
    public Layer {
      Objects.requireNonNull(mediaType, "mediaType");
      content = content.clone();
      annotations = new TreeMap<>(annotations);
    }

    @Override
    public byte[] content() {
      return content.clone();
    }

    public Digest digest() {
      return Digest.of(content);
    }
  }

  /** A signature layer: {@code payload} and its signature by {@code signer}. */
  public static Layer signatureLayer(byte[] payload, ContentSigner signer) throws IOException {
    String sig = Base64.getEncoder().encodeToString(signer.sign(payload));
    return new Layer(Cosign.SIMPLE_SIGNING, payload, Map.of(Cosign.SIGNATURE, sig));
  }

  /** An attestation layer: the envelope, annotated with its predicate type. */
  public static Layer attestationLayer(byte[] envelope, String predicateType) {
    return new Layer(Dsse.MEDIA_TYPE, envelope, Map.of(Cosign.PREDICATE_TYPE, predicateType));
  }

  /** A descriptor of a manifest, as a subject or an entry of an index. */
  public record Descriptor(String mediaType, Digest digest, long size, String artifactType) {}

  /**
   * An artifact manifest with its config: the blobs (config and layers) a target must hold before
   * the manifest.
   */
  public record Artifact(byte[] manifest, byte[] config, List<Layer> layers) {
    public Artifact {
      manifest = manifest.clone();
      config = config.clone();
      layers = List.copyOf(layers);
    }

    @Override
    public byte[] manifest() {
      return manifest.clone();
    }

    @Override
    public byte[] config() {
      return config.clone();
    }

    public Digest digest() {
      return Digest.of(manifest);
    }

    /** This manifest as an entry of a referrers index. */
    public Descriptor descriptor(String artifactType) {
      return new Descriptor(Cosign.OCI_MANIFEST, digest(), manifest.length, artifactType);
    }
  }

  /**
   * The manifest cosign reads under the {@code .sig} or {@code .att} tag, which is also a referrer
   * of {@code subject}: an OCI image manifest with an image config naming the layers (as diff ids),
   * {@code artifactType} and {@code subject}.
   */
  public static Artifact artifact(String artifactType, List<Layer> layers, Descriptor subject) {
    ObjectNode config = JSON.createObjectNode();
    config.put("architecture", "").put("os", "");
    config.putObject("config");
    ObjectNode rootfs = config.putObject("rootfs");
    rootfs.put("type", "layers");
    ArrayNode ids = rootfs.putArray("diff_ids");
    for (Layer l : layers) {
      ids.add(l.digest().toString());
    }
    byte[] configBytes = bytes(config);
    ObjectNode m = JSON.createObjectNode();
    m.put("schemaVersion", 2);
    m.put("mediaType", Cosign.OCI_MANIFEST);
    m.put("artifactType", artifactType);
    ObjectNode c = m.putObject("config");
    c.put("mediaType", Cosign.OCI_CONFIG)
        .put("digest", Digest.of(configBytes).toString())
        .put("size", configBytes.length);
    ArrayNode ls = m.putArray("layers");
    for (Layer l : layers) {
      ObjectNode o = ls.addObject();
      o.put("mediaType", l.mediaType())
          .put("digest", l.digest().toString())
          .put("size", l.content().length);
      if (!l.annotations().isEmpty()) {
        ObjectNode a = o.putObject("annotations");
        l.annotations().forEach(a::put);
      }
    }
    m.putObject("subject")
        .put("mediaType", subject.mediaType())
        .put("digest", subject.digest().toString())
        .put("size", subject.size());
    return new Artifact(bytes(m), configBytes, layers);
  }

  /** A layer of a manifest as listed: its media type, digest, size and annotations. */
  public record LayerRef(
      String mediaType, Digest digest, long size, Map<String, String> annotations) {}

  /** The layers a manifest lists. */
  public static List<LayerRef> layers(byte[] manifest) throws IOException {
    JsonNode m = JSON.readTree(manifest);
    List<LayerRef> out = new ArrayList<>();
    for (JsonNode l : m.path("layers")) {
      Map<String, String> a = new LinkedHashMap<>();
      l.path("annotations")
          .fields()
          .forEachRemaining(e -> a.put(e.getKey(), e.getValue().asText()));
      try {
        out.add(
            new LayerRef(
                l.path("mediaType").asText(),
                Digest.parse(l.path("digest").asText()),
                l.path("size").asLong(),
                a));
      } catch (IllegalArgumentException e) {
        throw new IOException("a layer with a bad digest: " + e.getMessage(), e);
      }
    }
    return out;
  }

  /** Reads a blob a manifest lists, checking its digest. */
  @FunctionalInterface
  public interface BlobSource {
    byte[] read(LayerRef layer) throws IOException;
  }

  /** The layers of an existing manifest with their bytes; reads each blob once. */
  public static List<Layer> read(byte[] manifest, BlobSource blobs) throws IOException {
    List<Layer> out = new ArrayList<>();
    for (LayerRef r : layers(manifest)) {
      byte[] b = blobs.read(r);
      if (!Digest.of(b).equals(r.digest())) {
        throw new IOException("the blob " + r.digest() + " does not match its digest");
      }
      out.add(new Layer(r.mediaType(), b, r.annotations()));
    }
    return out;
  }

  /** Whether a signature layer holds {@code payload} signed by {@code key}. */
  public static boolean signs(Layer layer, byte[] payload, PublicKey key) {
    return layer.mediaType().equals(Cosign.SIMPLE_SIGNING)
        && Arrays.equals(layer.content(), payload)
        && verifies(layer, key);
  }

  /** Whether a signature layer's signature annotation verifies its payload with {@code key}. */
  public static boolean verifies(Layer layer, PublicKey key) {
    String sig = layer.annotations().get(Cosign.SIGNATURE);
    if (sig == null) {
      return false;
    }
    try {
      return SigningKey.verify(key, layer.content(), Base64.getDecoder().decode(sig));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * The signature layers to hold: {@code existing} as they are when one of them already signs the
   * payload with the signer's key (then nothing is to be written: empty), else {@code existing}
   * with {@code mine} added. Other keys' signatures are kept.
   */
  public static Optional<List<Layer>> mergeSignature(
      List<Layer> existing, byte[] payload, ContentSigner signer) throws IOException {
    for (Layer l : existing) {
      if (signs(l, payload, signer.publicKey())) {
        return Optional.empty();
      }
    }
    List<Layer> out = new ArrayList<>(existing);
    out.add(signatureLayer(payload, signer));
    return Optional.of(out);
  }

  /**
   * The attestation layers to hold: {@code existing}, but for the layers this signer wrote of the
   * same predicate type, which {@code mine} replace; empty when {@code existing} already holds each
   * of {@code mine} (the same statement, signed by this key), so nothing is to be written.
   */
  public static Optional<List<Layer>> mergeAttestations(
      List<Layer> existing, List<Layer> mine, PublicKey key) {
    List<Layer> out = new ArrayList<>();
    boolean allThere = true;
    for (Layer m : mine) {
      boolean there = false;
      for (Layer e : existing) {
        there |= samePayload(e, m) && signedBy(e, key);
      }
      allThere &= there;
    }
    if (allThere) {
      return Optional.empty();
    }
    for (Layer e : existing) {
      boolean replaced = false;
      for (Layer m : mine) {
        replaced |=
            Objects.equals(
                    e.annotations().get(Cosign.PREDICATE_TYPE),
                    m.annotations().get(Cosign.PREDICATE_TYPE))
                && signedBy(e, key);
      }
      if (!replaced) {
        out.add(e);
      }
    }
    out.addAll(mine);
    return Optional.of(out);
  }

  private static boolean samePayload(Layer a, Layer b) {
    try {
      return Arrays.equals(Dsse.read(a.content()).payload(), Dsse.read(b.content()).payload());
    } catch (IOException e) {
      return false;
    }
  }

  /** Whether an attestation layer's envelope carries a signature that verifies with {@code key}. */
  public static boolean signedBy(Layer layer, PublicKey key) {
    try {
      Dsse.Envelope env = Dsse.read(layer.content());
      byte[] pae = env.pae();
      for (Dsse.Signature s : env.signatures()) {
        if (SigningKey.verify(key, pae, s.sig())) {
          return true;
        }
      }
      return false;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * The referrers index (referrers tag schema) with {@code add} in it: {@code existing} (null:
   * none) keeps its other entries, an entry of the same digest is not repeated, and entries of the
   * same artifact type that {@code replaces} names are dropped.
   */
  public static byte[] referrersIndex(byte[] existing, List<Descriptor> add, List<Digest> replaces)
      throws IOException {
    ObjectNode index = JSON.createObjectNode();
    index.put("schemaVersion", 2);
    index.put("mediaType", Cosign.OCI_INDEX);
    ArrayNode ms = index.putArray("manifests");
    List<Digest> added = add.stream().map(Descriptor::digest).toList();
    if (existing != null) {
      for (JsonNode e : JSON.readTree(existing).path("manifests")) {
        String d = e.path("digest").asText();
        boolean drop = false;
        for (Digest r : replaces) {
          drop |= r.toString().equals(d);
        }
        for (Digest r : added) {
          drop |= r.toString().equals(d);
        }
        if (!drop) {
          ms.add(e);
        }
      }
    }
    for (Descriptor d : add) {
      ObjectNode o = ms.addObject();
      o.put("mediaType", d.mediaType()).put("digest", d.digest().toString()).put("size", d.size());
      if (d.artifactType() != null) {
        o.put("artifactType", d.artifactType());
      }
    }
    return bytes(index);
  }

  /** The manifest digests a referrers index lists with this artifact type. */
  public static List<Digest> referrers(byte[] index, String artifactType) throws IOException {
    List<Digest> out = new ArrayList<>();
    for (JsonNode e : JSON.readTree(index).path("manifests")) {
      if (artifactType == null || artifactType.equals(e.path("artifactType").asText())) {
        try {
          out.add(Digest.parse(e.path("digest").asText()));
        } catch (IllegalArgumentException x) {
          // not a digest: not a referrer Kiln can read
        }
      }
    }
    return out;
  }

  private static byte[] bytes(JsonNode n) {
    try {
      return JSON.writeValueAsBytes(n);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
