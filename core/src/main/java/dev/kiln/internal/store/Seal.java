package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.internal.oci.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * The {@code seal} of the store's small JSON files (key entries, image records): the SHA-256 of
 * what the file is about (the cache key, the image digest) and of the rest of the document. A
 * damaged file, or one copied under another name, does not match its seal and is dropped or written
 * again.
 */
final class Seal {
  static final String FIELD = "seal";

  private Seal() {}

  /** Adds (or replaces) the seal of {@code n}, about {@code subject}. */
  static ObjectNode seal(Digest subject, ObjectNode n) {
    n.remove(FIELD);
    n.put(FIELD, compute(subject, n));
    return n;
  }

  /**
   * True when {@code n} carries a seal that matches, false when it carries none (written before
   * files were sealed); throws when its seal does not match.
   */
  static boolean verify(Digest subject, JsonNode n) throws IOException {
    if (!n.isObject() || !n.has(FIELD)) {
      return false;
    }
    ObjectNode rest = ((ObjectNode) n).deepCopy();
    String seal = rest.remove(FIELD).asText();
    if (!seal.equals(compute(subject, rest))) {
      throw new IOException("its seal does not match its content");
    }
    return true;
  }

  private static String compute(Digest subject, ObjectNode rest) {
    byte[] body = Json.bytes(rest);
    return "sha256:"
        + Hashing.sha256()
            .newHasher()
            .putString("kiln.seal.v1\n" + subject.hex() + "\n", StandardCharsets.UTF_8)
            .putBytes(body)
            .hash();
  }

  /**
   * For an image record written before records were sealed: true when it names the same image,
   * config and layer blobs (digest, diffID, size) as the record the bake would write.
   */
  static boolean sameImage(JsonNode there, JsonNode fresh) {
    if (!there.path("image").equals(fresh.path("image"))
        || !there.path("config").equals(fresh.path("config"))
        || there.path("layers").size() != fresh.path("layers").size()) {
      return false;
    }
    for (int i = 0; i < fresh.path("layers").size(); i++) {
      JsonNode a = there.path("layers").get(i);
      JsonNode b = fresh.path("layers").get(i);
      for (String f : new String[] {"digest", "diffId", "size"}) {
        if (!a.path(f).equals(b.path(f))) {
          return false;
        }
      }
    }
    return true;
  }

  /** True when the layer blob (verified against its digest already) has the entry's diffID. */
  static boolean diffIdMatches(KeyEntry entry, Path blob) throws IOException {
    if (!LayerRecord.isGzip(entry.mediaType())) {
      return entry.diffId().equals(entry.digest());
    }
    try (InputStream in = Files.newInputStream(blob);
        HashingInputStream raw =
            new HashingInputStream(Hashing.sha256(), new GZIPInputStream(in, 1 << 16))) {
      raw.transferTo(OutputStream.nullOutputStream());
      return raw.hash().toString().equals(entry.diffId().hex());
    } catch (IOException e) {
      return false;
    }
  }
}
