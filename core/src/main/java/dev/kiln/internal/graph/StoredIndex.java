package dev.kiln.internal.graph;

import dev.kiln.Digest;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.IndexView;
import java.util.List;

/** A multi-platform image in the local store: its index and the image of each platform. */
record StoredIndex(Digest digest, byte[] index, List<StoredImage> stored) implements IndexView {
  StoredIndex {
    stored = List.copyOf(stored);
  }

  @Override
  public List<ImageView> images() {
    return List.copyOf(stored);
  }
}
