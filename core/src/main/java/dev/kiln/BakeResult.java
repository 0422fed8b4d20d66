package dev.kiln;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The outcome of a bake: the image digest (of its OCI manifest), its config digest, the layers,
 * what was provisioned in this bake (as opposed to found in the cache), what each target holds, the
 * image record, and which layers were downloaded from the remote cache ({@code
 * Kiln.builder().remoteCache(…)}) instead of provisioned.
 *
 * <p>A build baked for several platforms ({@link ImageBuild#platforms}) gives a result whose {@code
 * digest} is that of the OCI image index, whose {@code published} are the publications of the
 * index, and whose {@link #platforms()} hold the result of each platform's image; its config
 * digest, key, layers and record are those of the first platform, and {@code provisioned} and
 * {@code fromRemoteCache} list what any platform provisioned or pulled. A single-platform result
 * has no {@code platforms}.
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
    Map<Platform, BakeResult> platforms) {
  public BakeResult {
    layers = List.copyOf(layers);
    provisioned = List.copyOf(provisioned);
    published = Map.copyOf(published);
    fromRemoteCache = List.copyOf(fromRemoteCache);
    platforms = Collections.unmodifiableMap(new LinkedHashMap<>(platforms));
  }

  /** A single-platform result. */
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
        Map.of());
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
        platforms);
  }

  /** This result with the publications {@code published}. */
  public BakeResult published(Map<String, PublishedImage> published) {
    return new BakeResult(
        digest,
        configDigest,
        key,
        layers,
        provisioned,
        published,
        record,
        fromRemoteCache,
        platforms);
  }

  /**
   * @deprecated use {@link #published(Map)}
   */
  @Deprecated(since = "0.2")
  public BakeResult withPublished(Map<String, PublishedImage> published) {
    return published(published);
  }

  /** Whether this is the result of a multi-platform bake, whose digest is an image index's. */
  public boolean isIndex() {
    return !platforms.isEmpty();
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

  /** The diffIDs of the layers, lowest first. */
  public List<Digest> diffIds() {
    return layers.stream().map(LayerRecord::diffId).toList();
  }
}
