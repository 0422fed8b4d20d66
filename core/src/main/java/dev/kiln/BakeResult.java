package dev.kiln;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The outcome of a bake: the image digest (of its OCI manifest), its config digest, the layers, what was
 * provisioned in this bake (as opposed to found in the cache), what each target holds, and the image record.
 */
public record BakeResult(
    Digest digest,
    Digest configDigest,
    Digest key,
    List<LayerRecord> layers,
    List<String> provisioned,
    Map<String, PublishedImage> published,
    Path record) {
  public BakeResult {
    layers = List.copyOf(layers);
    provisioned = List.copyOf(provisioned);
    published = Map.copyOf(published);
  }

  /** The diffIDs of the layers, lowest first. */
  public List<Digest> diffIds() {
    return layers.stream().map(LayerRecord::diffId).toList();
  }
}
