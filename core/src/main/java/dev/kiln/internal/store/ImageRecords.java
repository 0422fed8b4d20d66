package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import dev.kiln.internal.oci.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's {@code records/}: the image record of each baked image ({@code records/<image>.json},
 * sealed, written once) and one record per publication of it ({@code records/<image>/<target
 * hash>.json}). Thread-safe.
 */
final class ImageRecords {
  private static final Logger log = LoggerFactory.getLogger(ImageRecords.class);

  private final Path dir;
  private final StoreFiles files;

  ImageRecords(Path dir, StoreFiles files) {
    this.dir = dir;
    this.files = files;
  }

  /** Where the image record of a manifest digest is (or would be). */
  Path path(Digest image) {
    return dir.resolve(image.hex() + ".json");
  }

  /**
   * Writes the image record for a manifest digest once; an existing record is kept unless it is
   * damaged (not sealed by its own digest, or not about this image), when it is written again with
   * the time it was first baked if that is still readable. Returns its path.
   */
  Path write(Digest image, ObjectNode record) throws IOException {
    Path p = path(image);
    if (!Files.exists(p)) {
      files.writeAtomicallyKeepExisting(p, Json.bytes(Seal.seal(image, record)));
      return p;
    }
    JsonNode there = null;
    try {
      there = Json.read(Files.readAllBytes(p));
      if (there.isObject()
          && Seal.verify(image, there)
          && image.toString().equals(there.path("image").asText())) {
        StoreFiles.touch(p); // baked again: what garbage collection orders by
        return p;
      }
      if (there.isObject() && !there.has(Seal.FIELD) && Seal.sameImage(there, record)) {
        files.writeAtomically(p, Json.bytes(Seal.seal(image, ((ObjectNode) there).deepCopy())));
        return p;
      }
    } catch (IOException | RuntimeException e) {
      // damaged: written again below
    }
    log.warn("image record {} is damaged; writing it again", p);
    ObjectNode fresh = record.deepCopy();
    String first = there == null ? "" : there.path("firstBaked").asText("");
    try {
      Instant.parse(first);
      fresh.put("firstBaked", first);
    } catch (RuntimeException e) {
      // unreadable: the record says now
    }
    files.writeAtomically(p, Json.bytes(Seal.seal(image, fresh)));
    return p;
  }

  /** Writes what a target holds of an image, once per (image, target). */
  Path writeTarget(Digest image, String target, ObjectNode record) throws IOException {
    Path targets = Files.createDirectories(dir.resolve(image.hex()));
    String name =
        Hashing.sha256().hashString(target, StandardCharsets.UTF_8).toString().substring(0, 16);
    Path p = targets.resolve(name + ".json");
    files.writeAtomicallyKeepExisting(p, Json.bytes(record));
    return p;
  }
}
