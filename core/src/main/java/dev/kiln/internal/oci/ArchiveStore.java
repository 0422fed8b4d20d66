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
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * {@code oci-archive:FILE[:TAG]} (an OCI image layout in a tar) and {@code docker-archive:FILE[:NAME:TAG]} (what
 * {@code docker load} reads). The archive is written next to FILE and renamed into place, so a reader never sees a
 * half-written file; an archive that already holds this image is left alone. Entries carry a fixed time, so the
 * archive itself is reproducible. Thread-safe.
 */
final class ArchiveStore implements ImageStore {
  enum Format {
    OCI,
    DOCKER
  }

  private static final long MTIME = 1;

  private final String target;
  private final Path file;
  private final Format format;
  private final String name;

  ArchiveStore(String target, Path file, Format format, String name) {
    this.target = target;
    this.file = file; // absolute, as TargetPaths resolves it
    this.format = format;
    this.name = name;
  }

  @Override
  public Optional<PublishedImage> find(ImageView image, PublishContext ctx) {
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try (TarArchiveInputStream in = new TarArchiveInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
      TarArchiveEntry e;
      for (int i = 0; i < 4 && (e = in.getNextEntry()) != null; i++) {
        if (format == Format.OCI && e.getName().equals("index.json")) {
          for (JsonNode m : Json.read(in.readAllBytes()).path("manifests")) {
            if (m.path("digest").asText().equals(image.digest().toString())
                && m.path("annotations").path(Json.REF_NAME).asText().equals(name)) {
              return Optional.of(published(image, true));
            }
          }
          return Optional.empty();
        }
        if (format == Format.DOCKER && e.getName().equals("manifest.json")) {
          JsonNode m = Json.read(in.readAllBytes()).path(0);
          boolean sameConfig = m.path("Config").asText().equals(image.configDigest().hex() + ".json");
          boolean sameTags = name.isEmpty() ? m.path("RepoTags").isEmpty() : m.path("RepoTags").path(0).asText().equals(name);
          return sameConfig && sameTags ? Optional.of(published(image, true)) : Optional.empty();
        }
      }
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }

  @Override
  public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp-" + UUID.randomUUID());
    try {
      Files.createDirectories(file.getParent());
      try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16);
          TarArchiveOutputStream tar = new TarArchiveOutputStream(os)) {
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        if (format == Format.OCI) {
          writeOci(image, tar, ctx);
        } else {
          writeDocker(image, tar, ctx);
        }
        tar.finish();
      }
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return published(image, false);
    } catch (IOException e) {
      throw new ImageStoreException(target, "could not write " + file + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException e) {
        // best effort
      }
    }
  }

  private void writeOci(ImageView image, TarArchiveOutputStream tar, PublishContext ctx) throws IOException {
    bytes(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
    ObjectNode idx = Json.emptyIndex();
    idx.withArray("manifests").add(Json.manifestDescriptor(image.digest(), image.manifest().length, name));
    bytes(tar, "index.json", Json.bytes(idx));
    dir(tar, "blobs/");
    dir(tar, "blobs/sha256/");
    bytes(tar, "blobs/sha256/" + image.digest().hex(), image.manifest());
    bytes(tar, "blobs/sha256/" + image.configDigest().hex(), image.config());
    copyLayers(image, tar, ctx, l -> "blobs/sha256/" + l.digest().hex());
  }

  private void writeDocker(ImageView image, TarArchiveOutputStream tar, PublishContext ctx) throws IOException {
    ArrayNode manifest = Json.mapper().createArrayNode();
    ObjectNode m = manifest.addObject();
    m.put("Config", image.configDigest().hex() + ".json");
    ArrayNode tags = m.putArray("RepoTags");
    if (!name.isEmpty()) {
      tags.add(name);
    }
    ArrayNode layers = m.putArray("Layers");
    Map<Digest, String> paths = new LinkedHashMap<>();
    for (LayerRecord l : image.layers()) {
      // docker load decompresses gzip layer files itself: the blobs go in as they are, no re-compression
      paths.putIfAbsent(l.digest(), l.digest().hex() + "/layer.tar");
      layers.add(paths.get(l.digest()));
    }
    bytes(tar, "manifest.json", Json.bytes(manifest));
    bytes(tar, image.configDigest().hex() + ".json", image.config());
    copyLayers(image, tar, ctx, l -> l.digest().hex() + "/layer.tar");
  }

  private interface Naming {
    String name(LayerRecord l);
  }

  private void copyLayers(ImageView image, TarArchiveOutputStream tar, PublishContext ctx, Naming naming) throws IOException {
    long total = image.layers().stream().mapToLong(LayerRecord::size).sum();
    long done = 0;
    java.util.Set<Digest> written = new java.util.HashSet<>();
    for (LayerRecord l : image.layers()) {
      if (!written.add(l.digest())) {
        continue;
      }
      String entryName = naming.name(l);
      int slash = entryName.lastIndexOf('/');
      if (format == Format.DOCKER && slash > 0) {
        dir(tar, entryName.substring(0, slash + 1));
      }
      TarArchiveEntry e = new TarArchiveEntry(entryName);
      e.setSize(image.blobSize(l.digest()));
      e.setModTime(MTIME * 1000);
      e.setMode(0100644);
      tar.putArchiveEntry(e);
      try (InputStream in = image.openBlob(l.digest())) {
        in.transferTo(tar);
      }
      tar.closeArchiveEntry();
      done += l.size();
      ctx.emit(new BakeEvent.BytesWritten(target, done, total));
    }
  }

  private static void bytes(TarArchiveOutputStream tar, String name, byte[] content) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(content.length);
    e.setModTime(MTIME * 1000);
    e.setMode(0100644);
    tar.putArchiveEntry(e);
    tar.write(content);
    tar.closeArchiveEntry();
  }

  private static void dir(TarArchiveOutputStream tar, String name) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setModTime(MTIME * 1000);
    e.setMode(040755);
    tar.putArchiveEntry(e);
    tar.closeArchiveEntry();
  }

  private PublishedImage published(ImageView image, boolean reused) {
    Map<String, String> d = new LinkedHashMap<>();
    d.put("file", file.toString());
    if (!name.isEmpty()) {
      d.put("name", name);
    }
    return new PublishedImage(target, image.digest(), reused, d);
  }
}
