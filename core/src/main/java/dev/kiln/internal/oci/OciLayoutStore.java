package dev.kiln.internal.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.PublishContext;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * {@code oci:DIR[:TAG]}: writes the image into an OCI image layout directory (creating it), blobs it already has are
 * skipped, and points TAG at the image in index.json. Thread-safe; concurrent writers to one layout coordinate
 * with a file lock.
 */
final class OciLayoutStore implements ImageStore {
  private final String target;
  private final Path dir;
  private final String tag;

  OciLayoutStore(String target, Path dir, String tag) {
    this.target = target;
    this.dir = dir; // absolute, as TargetPaths resolves it
    this.tag = tag;
  }

  @Override
  public Optional<PublishedImage> find(ImageView image, PublishContext ctx) {
    try {
      Path index = dir.resolve("index.json");
      if (!Files.isRegularFile(index)) {
        return Optional.empty();
      }
      for (JsonNode m : Json.read(Files.readAllBytes(index)).path("manifests")) {
        if (tag.equals(m.path("annotations").path(Json.REF_NAME).asText())
            && image.digest().toString().equals(m.path("digest").asText())
            && allBlobsPresent(image)) {
          return Optional.of(published(image, false));
        }
      }
    } catch (IOException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }

  private boolean allBlobsPresent(ImageView image) throws IOException {
    for (LayerRecord l : image.layers()) {
      Path p = blob(l.digest());
      if (!Files.isRegularFile(p) || Files.size(p) != l.size()) {
        return false;
      }
    }
    return Files.isRegularFile(blob(image.configDigest())) && Files.isRegularFile(blob(image.digest()));
  }

  @Override
  public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
    try {
      Files.createDirectories(dir.resolve("blobs").resolve("sha256"));
      Path layoutFile = dir.resolve("oci-layout");
      if (!Files.exists(layoutFile)) {
        writeAtomically(layoutFile, "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
      }
      long total = image.layers().stream().mapToLong(LayerRecord::size).sum();
      long done = 0;
      for (LayerRecord l : image.layers()) {
        copyBlob(image, l.digest());
        done += l.size();
        ctx.emit(new BakeEvent.BytesWritten(target, done, total));
      }
      writeBlob(image.configDigest(), image.config());
      writeBlob(image.digest(), image.manifest());
      try (FileChannel ch = FileChannel.open(dir.resolve(".kiln-index.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock l = ch.lock()) {
        Path index = dir.resolve("index.json");
        ObjectNode idx = Files.isRegularFile(index) ? (ObjectNode) Json.read(Files.readAllBytes(index)) : Json.emptyIndex();
        ArrayNode kept = Json.mapper().createArrayNode();
        for (JsonNode m : idx.path("manifests")) {
          if (!tag.equals(m.path("annotations").path(Json.REF_NAME).asText())) {
            kept.add(m);
          }
        }
        kept.add(Json.manifestDescriptor(image.digest(), image.manifest().length, tag));
        idx.set("manifests", kept);
        writeAtomically(index, Json.bytes(idx));
      }
      return published(image, false);
    } catch (IOException e) {
      throw new ImageStoreException(target, "could not write the OCI layout: " + e.getMessage(), e);
    }
  }

  private PublishedImage published(ImageView image, boolean reused) {
    return new PublishedImage(target, image.digest(), reused, Map.of("layout", dir.toString(), "tag", tag));
  }

  private Path blob(Digest d) {
    return dir.resolve("blobs").resolve("sha256").resolve(d.hex());
  }

  private void copyBlob(ImageView image, Digest d) throws IOException {
    Path dest = blob(d);
    if (Files.isRegularFile(dest) && Files.size(dest) == image.blobSize(d)) {
      return;
    }
    Path tmp = dest.resolveSibling(".tmp-" + UUID.randomUUID());
    try (InputStream in = image.openBlob(d)) {
      Files.copy(in, tmp);
      Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private void writeBlob(Digest d, byte[] content) throws IOException {
    Path dest = blob(d);
    if (!Files.isRegularFile(dest) || Files.size(dest) != content.length) {
      writeAtomically(dest, content);
    }
  }

  private static void writeAtomically(Path dest, byte[] content) throws IOException {
    Path tmp = dest.resolveSibling(".tmp-" + UUID.randomUUID());
    try {
      Files.write(tmp, content);
      Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
