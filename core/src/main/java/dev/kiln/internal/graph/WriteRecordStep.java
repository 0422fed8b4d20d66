package dev.kiln.internal.graph;

import dev.kiln.BakeException;
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
    ImageRecord r =
        new ImageRecord(
            ImageRecord.SCHEMA,
            image.digest(),
            image.configDigest(),
            image.key(),
            c.baseDescription(),
            Instant.now().toString(),
            image.layers());
    try {
      return services.store().writeRecord(image.digest(), r.toJson());
    } catch (IOException e) {
      throw new BakeException("could not write the image record: " + e.getMessage(), e);
    }
  }
}
