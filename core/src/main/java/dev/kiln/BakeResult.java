package dev.kiln;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The outcome of a bake: the image digest (of its OCI manifest), its config digest, the layers,
 * what was provisioned in this bake (as opposed to found in the cache), what each target holds, the
 * image record, which layers were downloaded from the remote cache ({@code
 * Kiln.builder().remoteCache(…)}) instead of provisioned, and the SBOMs and provenance written for
 * the image ({@code Kiln.builder().sbom(…)}, {@code .provenance(true)}; none when off).
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
    List<Attestation> attestations) {
  public BakeResult {
    layers = List.copyOf(layers);
    provisioned = List.copyOf(provisioned);
    published = Map.copyOf(published);
    fromRemoteCache = List.copyOf(fromRemoteCache);
    attestations = List.copyOf(attestations);
  }

  /** A result without attestations. */
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
        List.of());
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

  /** The document of this kind written for the image, if one was asked for. */
  public Optional<Attestation> attestation(Attestation.Kind kind) {
    return attestations.stream().filter(a -> a.kind() == kind).findFirst();
  }

  /** The diffIDs of the layers, lowest first. */
  public List<Digest> diffIds() {
    return layers.stream().map(LayerRecord::diffId).toList();
  }
}
