package dev.kiln.internal.graph;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.oci.OciImages;
import dev.kiln.internal.store.LocalStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Step 5: writes an image's config and manifest into the local store and tags it there by its
 * digest (also used for the parent image a layer runs in).
 */
final class AssembleImageStep {
  private final Services services;

  AssembleImageStep(Services services) {
    this.services = services;
  }

  StoredImage run(
      List<LayerRecord> layers,
      ImageConfig config,
      Digest key,
      List<Integer> bases,
      Platform platform)
      throws BakeException {
    LocalStore store = services.store();
    try {
      byte[] cfg = OciImages.config(config, layers, services.mtime(), platform);
      Digest cfgDigest = store.putBlob(cfg);
      byte[] manifest = OciImages.manifest(cfgDigest, cfg.length, layers);
      Digest digest = store.putBlob(manifest);
      store.tag(digest, manifest.length, digest.hex());
      services.emit(new BakeEvent.ImageAssembled(digest, layers.size()));
      return new StoredImage(store, digest, manifest, cfgDigest, cfg, config, layers, key, bases);
    } catch (IOException e) {
      throw new BakeException(
          "could not assemble the image in the store " + store.root() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes the OCI image index of the images of one build baked for several platforms into the
   * local store and tags it there by its digest.
   */
  StoredIndex index(List<StoredImage> images) throws BakeException {
    LocalStore store = services.store();
    List<OciImages.IndexEntry> entries = new ArrayList<>();
    for (StoredImage i : images) {
      entries.add(new OciImages.IndexEntry(i.digest(), i.manifest().length, i.platform()));
    }
    try {
      byte[] index = OciImages.index(entries);
      Digest digest = store.putBlob(index);
      store.tag(digest, index.length, digest.hex(), Json.INDEX_TYPE);
      return new StoredIndex(digest, index, images);
    } catch (IOException e) {
      throw new BakeException(
          "could not write the image index in the store " + store.root() + ": " + e.getMessage(),
          e);
    }
  }
}
