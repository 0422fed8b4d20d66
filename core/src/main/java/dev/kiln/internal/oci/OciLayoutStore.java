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
import dev.kiln.spi.LocalOutput;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code oci:DIR[:TAG]}: writes the image into an OCI image layout directory (creating it), blobs it already has are
 * skipped, and points TAG at the image in index.json. Thread-safe; concurrent writers to one layout, in this process or
 * others, serialise their index.json updates on a lock per directory in this process and a file lock across
 * processes, so every tag lands.
 */
final class OciLayoutStore implements ImageStore {
  /** A file lock does not exclude threads of one process: this does, per layout directory (by real path). */
  private static final ConcurrentHashMap<Path, ReentrantLock> INDEX_LOCKS = new ConcurrentHashMap<>();

  private final String target;
  private final Path dir;
  private final String tag;

  OciLayoutStore(String target, Path dir, String tag) {
    this.target = target;
    this.dir = dir.toAbsolutePath().normalize();
    this.tag = tag;
  }

  @Override
  public Optional<LocalOutput> localOutput() {
    return Optional.of(new LocalOutput(dir, "oci-layout", tag, true));
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
      lockIndex(() -> {
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
      });
      return published(image, false);
    } catch (IOException e) {
      throw new ImageStoreException(target, "could not write the OCI layout: " + e.getMessage(), e);
    }
  }

  private interface IndexUpdate {
    void run() throws IOException;
  }

  /** Runs {@code update} holding the layout's index lock, across the threads of this process and across processes. */
  private void lockIndex(IndexUpdate update) throws IOException {
    Path lockFile = dir.toRealPath().resolve(".kiln-index.lock");
    ReentrantLock jvm = INDEX_LOCKS.computeIfAbsent(lockFile, k -> new ReentrantLock());
    jvm.lock(); // first: this process opens the lock file only while it holds this, never beside a held file lock
    try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock l = ch.lock()) {
      update.run();
    } finally {
      jvm.unlock();
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
