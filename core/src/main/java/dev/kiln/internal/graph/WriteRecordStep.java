package dev.kiln.internal.graph;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.BakeException;
import dev.kiln.LayerRecord;
import dev.kiln.internal.oci.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;

/**
 * Step 6: writes the image record (once per image): base, layers with keys, digests and named
 * inputs.
 */
final class WriteRecordStep {
  private final Services services;

  WriteRecordStep(Services services) {
    this.services = services;
  }

  Path run(StoredImage image, Chain c) throws BakeException {
    ObjectNode r = Json.object();
    r.put("schema", "dev.kiln.record.v1");
    r.put("image", image.digest().toString());
    r.put("config", image.configDigest().toString());
    r.put("key", image.key().toString());
    r.put("base", c.baseDescription());
    r.put("firstBaked", Instant.now().toString());
    ArrayNode ls = r.putArray("layers");
    for (LayerRecord l : image.layers()) {
      ObjectNode o = ls.addObject();
      o.put("name", l.name()).put("kind", l.kind()).put("key", l.key().toString());
      o.put("diffId", l.diffId().toString())
          .put("digest", l.digest().toString())
          .put("size", l.size());
      if (l.uncompressedSize() >= 0) {
        o.put("uncompressedSize", l.uncompressedSize());
      }
      ArrayNode in = o.putArray("inputs");
      l.inputs()
          .forEach(i -> in.addObject().put("name", i.name()).put("digest", i.digest().toString()));
      if (!l.metadata().isEmpty()) {
        ObjectNode md = o.putObject("metadata");
        l.metadata().forEach(md::put);
      }
    }
    try {
      return services.store().writeRecord(image.digest(), r);
    } catch (IOException e) {
      throw new BakeException("could not write the image record: " + e.getMessage(), e);
    }
  }
}
