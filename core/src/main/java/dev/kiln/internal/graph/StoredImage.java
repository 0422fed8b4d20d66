package dev.kiln.internal.graph;

import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.ImageView;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** An image assembled in the local store. Thread-safe. */
record StoredImage(
    LocalStore store,
    Digest digest,
    byte[] manifest,
    Digest configDigest,
    byte[] config,
    ImageConfig runtimeConfig,
    List<LayerRecord> layers,
    Digest key,
    List<Integer> bases)
    implements ImageView {

  @Override
  public InputStream openBlob(Digest d) throws IOException {
    checkOwn(d);
    return store.openBlob(d);
  }

  @Override
  public long blobSize(Digest d) throws IOException {
    checkOwn(d);
    return store.blobSize(d);
  }

  private void checkOwn(Digest d) {
    Set<Digest> own = layers.stream().map(LayerRecord::digest).collect(Collectors.toSet());
    if (!own.contains(d) && !d.equals(digest) && !d.equals(configDigest)) {
      throw new IllegalArgumentException(d + " is not a blob of image " + digest);
    }
  }
}
