package dev.kiln;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The outcome of a bake: the image digest (of its OCI manifest), its config digest, the layers,
 * what was provisioned in this bake (as opposed to found in the cache), what each target holds, the
 * image record, and which layers were downloaded from the remote cache ({@code
 * Kiln.builder().remoteCache(…)}) instead of provisioned.
 */
public record BakeResult(
    Digest digest,
    Digest configDigest,
    Digest key,
    List<LayerRecord> layers,
    List<String> provisioned,
    Map<String, PublishedImage> published,
    Path record,
    List<String> fromRemoteCache) {
  public BakeResult {
    layers = List.copyOf(layers);
    provisioned = List.copyOf(provisioned);
    published = Map.copyOf(published);
    fromRemoteCache = List.copyOf(fromRemoteCache);
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
