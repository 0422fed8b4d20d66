package dev.kiln.internal.graph;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.SignedDocuments;
import java.io.IOException;
import java.time.Instant;
import java.util.List;

/**
 * {@link SignedDocuments} in the local store: blobs, and a record {@code {"image", "target", "at",
 * "signed": [{"name", "mediaType", "digest", "size"}]}} beside the image's publications, which
 * keeps the blobs referenced.
 */
final class StoreSignedDocuments implements SignedDocuments {
  private final LocalStore store;

  StoreSignedDocuments(LocalStore store) {
    this.store = store;
  }

  @Override
  public void keep(Digest image, String target, List<Document> documents) throws IOException {
    ObjectNode rec = Json.object();
    rec.put("image", image.toString()).put("target", target).put("at", Instant.now().toString());
    ArrayNode list = rec.putArray("signed");
    StringBuilder key = new StringBuilder("signed ").append(target);
    for (Document d : documents) {
      byte[] content = d.content();
      Digest stored = store.putBlob(content);
      if (!stored.equals(d.digest())) {
        throw new IOException(d.name() + " was stored as " + stored + ", not " + d.digest());
      }
      list.addObject()
          .put("name", d.name())
          .put("mediaType", d.mediaType())
          .put("digest", stored.toString())
          .put("size", content.length);
      key.append(' ').append(stored);
    }
    store.writeTargetRecord(image, key.toString(), rec);
  }
}
