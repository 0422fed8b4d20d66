package dev.kiln.spi;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Attestation;
import dev.kiln.Digest;
import dev.kiln.SigningKey;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
 * The formats cosign and OCI 1.1 referrers use to attach signatures and attestations to an image,
 * written and read by every target that holds them (a registry, an OCI layout) and by {@code
 * Kiln.verify}:
 *
 * <ul>
 *   <li>the signature: an OCI manifest tagged {@code sha256-<hex>.sig} whose layers are "simple
 *       signing" payloads ({@value #SIMPLE_SIGNING}) naming the repository and the manifest digest,
 *       each with its base64 DER signature in the annotation {@value #SIGNATURE};
 *   <li>the attestations: an OCI manifest tagged {@code sha256-<hex>.att} whose layers are DSSE
 *       envelopes ({@value Dsse#MEDIA_TYPE}) of in-toto statements, each annotated with its {@code
 *       predicateType};
 *   <li>both manifests carry the image as their {@code subject} and an {@code artifactType}, so
 *       they are also the image's OCI 1.1 referrers; where a registry has no referrers API, the tag
 *       {@code sha256-<hex>} holds the index of them (the referrers tag schema).
 * </ul>
 *
 * Everything here is written in a fixed order, so the same input gives the same bytes.
 */
public final class Cosign {
  /** The media type of a simple signing payload layer. */
  public static final String SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";

  /** The annotation of a signature layer that holds the base64 DER signature of its payload. */
  public static final String SIGNATURE = "dev.cosignproject.cosign/signature";

  /** The annotation of an attestation layer that names its statement's predicate type. */
  public static final String PREDICATE_TYPE = "predicateType";

  /** The artifact type of a signature manifest (as a referrer). */
  public static final String SIGNATURE_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json";

  /** The artifact type of an attestation manifest (as a referrer). */
  public static final String ATTESTATION_ARTIFACT = Dsse.MEDIA_TYPE;

  /** The type of a simple signing payload. */
  public static final String PAYLOAD_TYPE = "cosign container image signature";

  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";

  /** The in-toto statement type. */
  public static final String STATEMENT = "https://in-toto.io/Statement/v1";

  private static final ObjectMapper JSON = new ObjectMapper();

  private Cosign() {}

  /** {@code sha256-<hex>.sig}: the tag of an image's signature manifest. */
  public static String signatureTag(Digest image) {
    return "sha256-" + image.hex() + ".sig";
  }

  /** {@code sha256-<hex>.att}: the tag of an image's attestation manifest. */
  public static String attestationTag(Digest image) {
    return "sha256-" + image.hex() + ".att";
  }

  /** {@code sha256-<hex>}: the tag of the referrers index where a registry has no referrers API. */
  public static String referrersTag(Digest image) {
    return "sha256-" + image.hex();
  }

  /**
   * The predicate type of a document as an attestation: SLSA provenance v1 (the provenance is a
   * statement already), SPDX, CycloneDX (cosign's {@code --type spdxjson} and {@code cyclonedx}).
   */
  public static String predicateType(Attestation.Kind kind) {
    return switch (kind) {
      case PROVENANCE -> "https://slsa.dev/provenance/v1";
      case SPDX -> "https://spdx.dev/Document";
      case CYCLONEDX -> "https://cyclonedx.org/bom";
    };
  }

  /**
   * The simple signing payload that a signature of {@code manifest} in {@code repository} covers:
   * {@code {"critical":{"identity":{"docker-reference":REPO},"image":{"docker-manifest-digest":
   * "sha256:…"},"type":"cosign container image signature"},"optional":null}}.
   */
  public static byte[] payload(String repository, Digest manifest) {
    ObjectNode root = JSON.createObjectNode();
    ObjectNode critical = root.putObject("critical");
    critical.putObject("identity").put("docker-reference", repository);
    critical.putObject("image").put("docker-manifest-digest", manifest.toString());
    critical.put("type", PAYLOAD_TYPE);
    root.putNull("optional");
    return bytes(root);
  }

  /** What a simple signing payload says: the repository and the manifest digest it signs. */
  public record Payload(String repository, Digest manifest) {}

  /** Reads a simple signing payload; an IOException says what is wrong with it. */
  public static Payload readPayload(byte[] payload) throws IOException {
    JsonNode n = JSON.readTree(payload);
    JsonNode c = n == null ? null : n.path("critical");
    if (c == null || !PAYLOAD_TYPE.equals(c.path("type").asText())) {
      throw new IOException("not a cosign signature payload (critical.type)");
    }
    try {
      return new Payload(
          c.path("identity").path("docker-reference").asText(),
          Digest.parse(c.path("image").path("docker-manifest-digest").asText()));
    } catch (IllegalArgumentException e) {
      throw new IOException("a cosign payload without a manifest digest: " + e.getMessage(), e);
    }
  }

  /**
   * An in-toto statement v1 about {@code subject} whose predicate is {@code predicate} byte for
   * byte (a JSON object), so its digest can be checked again ({@link #predicate}).
   */
  public static byte[] statement(Digest subject, String predicateType, byte[] predicate) {
    ObjectNode head = JSON.createObjectNode();
    head.put("_type", STATEMENT);
    ObjectNode s = head.putArray("subject").addObject();
    s.put("name", "image");
    s.putObject("digest").put("sha256", subject.hex());
    head.put("predicateType", predicateType);
    byte[] h = bytes(head);
    ByteArrayOutputStream out = new ByteArrayOutputStream(h.length + predicate.length + 16);
    out.write(h, 0, h.length - 1);
    out.writeBytes(",\"predicate\":".getBytes(StandardCharsets.UTF_8));
    out.writeBytes(predicate);
    out.write('}');
    return out.toByteArray();
  }

  /** The bytes of a statement's {@code predicate} value as they are in it; empty when none. */
  public static Optional<byte[]> predicate(byte[] statement) throws IOException {
    try (JsonParser p = JSON.getFactory().createParser(statement)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return Optional.empty();
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (name.equals("predicate")
            && (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY)) {
          long start = p.currentTokenLocation().getByteOffset();
          p.skipChildren();
          long end = p.currentLocation().getByteOffset();
          return Optional.of(Arrays.copyOfRange(statement, (int) start, (int) end));
        }
        p.skipChildren();
      }
      return Optional.empty();
    }
  }

  /** The sha256 digests of a statement's subjects. */
  public static List<Digest> subjects(JsonNode statement) {
    List<Digest> out = new ArrayList<>();
    for (JsonNode s : statement.path("subject")) {
      String hex = s.path("digest").path("sha256").asText("");
      if (hex.matches("[0-9a-f]{64}")) {
        out.add(new Digest(hex));
      }
    }
    return out;
  }

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
    return new Layer(SIMPLE_SIGNING, payload, Map.of(SIGNATURE, sig));
  }

  /** An attestation layer: the envelope, annotated with its predicate type. */
  public static Layer attestationLayer(byte[] envelope, String predicateType) {
    return new Layer(Dsse.MEDIA_TYPE, envelope, Map.of(PREDICATE_TYPE, predicateType));
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
      return new Descriptor(OCI_MANIFEST, digest(), manifest.length, artifactType);
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
    m.put("mediaType", OCI_MANIFEST);
    m.put("artifactType", artifactType);
    ObjectNode c = m.putObject("config");
    c.put("mediaType", OCI_CONFIG)
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
    return layer.mediaType().equals(SIMPLE_SIGNING)
        && Arrays.equals(layer.content(), payload)
        && verifies(layer, key);
  }

  /** Whether a signature layer's signature annotation verifies its payload with {@code key}. */
  public static boolean verifies(Layer layer, PublicKey key) {
    String sig = layer.annotations().get(SIGNATURE);
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
            Objects.equals(e.annotations().get(PREDICATE_TYPE), m.annotations().get(PREDICATE_TYPE))
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
    index.put("mediaType", OCI_INDEX);
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
