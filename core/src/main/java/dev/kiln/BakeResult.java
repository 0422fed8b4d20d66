package dev.kiln;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The outcome of a bake: the image digest (of its OCI manifest), its config digest, the layers,
 * what was provisioned in this bake (as opposed to found in the cache), what each target holds, the
 * image record, which layers were downloaded from the remote cache ({@code
 * Kiln.builder().remoteCache(…)}) instead of provisioned, and the SBOMs and provenance written for
 * the image ({@code Kiln.builder().sbom(…)}, {@code .provenance(true)}; none when off).
 *
 * <p>A build baked for several platforms ({@link ImageBuild#platforms}) gives a result whose {@code
 * digest} is that of the OCI image index, whose {@code published} are the publications of the
 * index, and whose {@link #platforms()} hold the result of each platform's image (with its
 * documents); its config digest, key, layers and record are those of the first platform, and {@code
 * provisioned} and {@code fromRemoteCache} list what any platform provisioned or pulled. A
 * single-platform result has no {@code platforms}.
 */
public record BakeResult(
    Digest digest,
    Digest configDigest,
    Digest key,
    List<LayerRecord> layers,
    List<String> provisioned,
    Map<String, PublishedImage> published,
    Path record,
    List<String> fromRemoteCache,
    List<Attestation> attestations,
    Map<Platform, BakeResult> platforms) {
  public BakeResult {
    layers = List.copyOf(layers);
    provisioned = List.copyOf(provisioned);
    published = Map.copyOf(published);
    fromRemoteCache = List.copyOf(fromRemoteCache);
    attestations = List.copyOf(attestations);
    platforms = Collections.unmodifiableMap(new LinkedHashMap<>(platforms));
  }

  /** A single-platform result without attestations. */
  public BakeResult(
      Digest digest,
      Digest configDigest,
      Digest key,
      List<LayerRecord> layers,
      List<String> provisioned,
      Map<String, PublishedImage> published,
      Path record,
      List<String> fromRemoteCache) {
    this(
        digest,
        configDigest,
        key,
        layers,
        provisioned,
        published,
        record,
        fromRemoteCache,
        List.of(),
        Map.of());
  }

  /** A result without remote cache hits. */
  public BakeResult(
      Digest digest,
      Digest configDigest,
      Digest key,
      List<LayerRecord> layers,
      List<String> provisioned,
      Map<String, PublishedImage> published,
      Path record) {
    this(digest, configDigest, key, layers, provisioned, published, record, List.of());
  }

  /**
   * The result of a multi-platform bake: the index digest, the result of each platform (in the
   * index's order) and the publications of the index.
   */
  public static BakeResult ofPlatforms(
      Digest index, Map<Platform, BakeResult> platforms, Map<String, PublishedImage> published) {
    BakeResult first = platforms.values().iterator().next();
    Set<String> provisioned = new LinkedHashSet<>();
    Set<String> pulled = new LinkedHashSet<>();
    for (BakeResult r : platforms.values()) {
      provisioned.addAll(r.provisioned);
      pulled.addAll(r.fromRemoteCache);
    }
    return new BakeResult(
        index,
        first.configDigest,
        first.key,
        first.layers,
        List.copyOf(provisioned),
        published,
        first.record,
        List.copyOf(pulled),
        List.of(),
        platforms);
  }

  /** This result with the publications {@code published}. */
  public BakeResult published(Map<String, PublishedImage> published) {
    return with(published, attestations);
  }

  /** This result with the documents {@code attestations}. */
  public BakeResult attestations(List<Attestation> attestations) {
    return with(published, attestations);
  }

  private BakeResult with(Map<String, PublishedImage> published, List<Attestation> attestations) {
    return new BakeResult(
        digest,
        configDigest,
        key,
        layers,
        provisioned,
        published,
        record,
        fromRemoteCache,
        attestations,
        platforms);
  }

  /** Whether this is the result of a multi-platform bake, whose digest is an image index's. */
  public boolean isIndex() {
    return !platforms.isEmpty();
  }

  /** The document of this kind written for the image, if one was asked for. */
  public Optional<Attestation> attestation(Attestation.Kind kind) {
    return attestations.stream().filter(a -> a.kind() == kind).findFirst();
  }

  /** The diffIDs of the layers, lowest first. */
  public List<Digest> diffIds() {
    return layers.stream().map(LayerRecord::diffId).toList();
  }
}
