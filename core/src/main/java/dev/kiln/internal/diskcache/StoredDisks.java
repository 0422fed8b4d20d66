package dev.kiln.internal.diskcache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.disk.DiskCache.CachedDisk;
import dev.kiln.disk.DiskImage;
import dev.kiln.disk.DiskOptions;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.store.LocalStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The disks in the store's {@code disks/}: each one a raw file, {@code <key>.raw}, and its info
 * beside it, {@code <key>.json} (its SHA-256, the layer key and options it was built for, the
 * kernel and initrd it boots). The info is written first and the disk put in place after it, so a
 * disk without its info (a killed process) is built again, never trusted. Thread-safe.
 */
final class StoredDisks {
  private final LocalStore store;

  StoredDisks(LocalStore store) {
    this.store = store;
  }

  /** The disk at {@code path} with its info, if both are there and readable. */
  Optional<CachedDisk> read(Path path, Digest diskKey) throws IOException {
    if (!Files.isRegularFile(path) || !Files.isRegularFile(infoPath(path))) {
      return Optional.empty();
    }
    JsonNode info;
    DiskImage d;
    try {
      info = Json.read(Files.readAllBytes(infoPath(path)));
      d = DiskImage.read(path);
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // a half-written entry from a killed process: built again
    }
    String kernel = info.path("kernel").asText("");
    String initrd = info.path("initrd").asText("");
    DiskImage withBoot =
        at(
            d.path(),
            d,
            kernel.isEmpty() ? Optional.empty() : Optional.of(kernel),
            initrd.isEmpty() ? Optional.empty() : Optional.of(initrd));
    return Optional.of(
        new CachedDisk(withBoot, Digest.parse(info.path("sha256").asText()), diskKey));
  }

  /** The info of a disk just built from the layers up to {@code layerKey}. */
  static ObjectNode info(Digest sha, Digest layerKey, DiskOptions options, DiskImage built) {
    ObjectNode info = Json.object();
    info.put("sha256", sha.toString());
    info.put("layerKey", layerKey.toString());
    info.put("options", options.toString());
    info.put("kernel", built.kernel().orElse(""));
    info.put("initrd", built.initrd().orElse(""));
    return info;
  }

  /** Puts a finished disk (a temp file) at {@code path}, with {@code info} beside it. */
  void commit(Path disk, Path path, ObjectNode info) throws IOException {
    store.writeAtomically(infoPath(path), Json.bytes(info));
    Files.deleteIfExists(
        path); // a disk without its info (a killed process) is rebuilt, never trusted
    store.commitFile(disk, path);
  }

  /** The disk {@code layout} describes, found at {@code path} and booting {@code kernel}. */
  static DiskImage at(
      Path path, DiskImage layout, Optional<String> kernel, Optional<String> initrd) {
    return new DiskImage(
        path,
        layout.size(),
        layout.diskGuid(),
        layout.espPartition(),
        layout.rootPartition(),
        layout.fsUuid(),
        layout.espOffset(),
        layout.espSize(),
        layout.rootOffset(),
        layout.rootSize(),
        kernel,
        initrd);
  }

  private static Path infoPath(Path disk) {
    return disk.resolveSibling(disk.getFileName().toString().replace(".raw", ".json"));
  }
}
