package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the store's {@code index.json} a valid OCI image index whose every entry can be copied:
 * each entry names a manifest (or image index) blob that is there, has the declared size and hashes
 * to its digest, and every blob that document refers to is there with the size it declares. Entries
 * that fail are removed; an {@code index.json} that cannot be read at all is set aside as {@code
 * index.json.corrupt} and rebuilt from the image records. The caller holds the store's index lock.
 * Thread-safe under that lock.
 *
 * <p>What is checked when: {@link #tag} checks only the entries of the tag it sets, so opening the
 * store and tagging cost the same however many images it holds. Every entry is checked by {@link
 * #checkAll} (garbage collection), after a blob was evicted or replaced (the next {@link
 * #readRepaired} or {@link #tag}), and when the index is rebuilt.
 */
final class StoreIndex {
  private static final Logger log = LoggerFactory.getLogger(StoreIndex.class);
  private static final Set<String> MANIFEST_TYPES =
      Set.of(Json.MANIFEST_TYPE, Json.DOCKER_MANIFEST_TYPE);
  private static final Set<String> INDEX_TYPES = Set.of(Json.INDEX_TYPE, Json.DOCKER_LIST_TYPE);
  private static final int PASSES = 4;

  private final LocalStore store;
  private final VerifiedBlobs verified;
  private final Path file;

  /**
   * The stat of index.json when this process last found every entry valid; null when it must be
   * checked.
   */
  private FileStat clean;

  /**
   * Set when this process evicted or replaced a blob: entries other than the one a call uses may
   * need it, so the next use of the index checks every entry.
   */
  private boolean recheck;

  StoreIndex(LocalStore store, VerifiedBlobs verified) {
    this.store = store;
    this.verified = verified;
    this.file = store.root().resolve("index.json");
  }

  /**
   * Makes the store's root an OCI image layout: an empty {@code index.json} where there is none,
   * then the {@code oci-layout} marker.
   */
  void initLayout() throws IOException {
    // index.json first: a process killed in between leaves no `oci-layout` marker on a directory
    // that is not yet a whole OCI layout
    if (!Files.exists(file)) {
      try (LocalStore.StoreLock l = store.lock("index")) {
        if (!Files.exists(file)) {
          store.writeAtomically(file, Json.bytes(Json.emptyIndex()));
        }
      }
    }
    Path layout = store.root().resolve("oci-layout");
    if (!layoutFileValid(layout)) {
      store.writeAtomically(
          layout, "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
    }
  }

  private static boolean layoutFileValid(Path layout) {
    try {
      return Json.read(Files.readAllBytes(layout)).path("imageLayoutVersion").isTextual();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /**
   * Makes the next {@link #readRepaired} check every entry again (a blob was evicted or replaced).
   */
  synchronized void invalidate() {
    clean = null;
    recheck = true;
  }

  /**
   * The index as it is on disk after repair: unreadable, it is set aside and rebuilt; entries that
   * are not valid are removed (checked once per change of index.json in this process, or after
   * {@link #invalidate}).
   */
  synchronized ObjectNode readRepaired() throws IOException {
    ObjectNode idx = read();
    if (idx == null) {
      idx = rebuild();
      write(idx);
      return idx;
    }
    if (clean != null && clean.equals(stat())) {
      return idx;
    }
    if (prune(idx)) {
      write(idx);
    } else {
      clean = stat();
      recheck = false;
    }
    return idx;
  }

  /**
   * Sets an index that does not read aside and rebuilds it from the image records, as {@link
   * #readRepaired} does; leaves a readable one as it is. True when it rebuilt the index.
   */
  synchronized boolean rebuildIfUnreadable() throws IOException {
    byte[] bytes = bytes();
    boolean nothingToRebuild = bytes != null ? parse(bytes) != null : !Files.exists(file);
    if (nothingToRebuild) {
      return false; // an index, or none yet
    }
    readRepaired();
    return true;
  }

  /**
   * Checks every entry of the index and removes those that are not valid, as {@link #readRepaired}
   * does, except that an index that does not read is left as it is (the next {@link #tag} sets it
   * aside and rebuilds it). For the operations that walk every image.
   */
  synchronized void checkAll() throws IOException {
    byte[] bytes = bytes();
    ObjectNode idx = bytes == null ? null : parse(bytes);
    if (idx == null) {
      return;
    }
    if (clean != null && clean.equals(stat())) {
      return;
    }
    if (prune(idx)) {
      write(idx);
    } else {
      clean = stat();
      recheck = false;
    }
  }

  /**
   * Adds (or retags) a manifest under {@code refName}. Only the entries of {@code refName} are
   * checked (and replaced when one is not valid); the others are left to the next full check,
   * unless this process evicted or replaced a blob since it last checked them all.
   */
  synchronized void tag(Digest manifest, long size, String refName, String mediaType)
      throws IOException {
    ObjectNode idx = recheck ? readRepaired() : read();
    if (idx == null) {
      idx = readRepaired();
    }
    boolean wasClean = clean != null && clean.equals(stat());
    ArrayNode kept = Json.mapper().createArrayNode();
    List<JsonNode> same = new ArrayList<>();
    for (JsonNode m : idx.path("manifests")) {
      String ref = m.path("annotations").path(Json.REF_NAME).asText(null);
      if (refName.equals(ref)) {
        same.add(m);
      } else {
        kept.add(m);
      }
    }
    if (same.size() == 1
        && manifest.toString().equals(same.get(0).path("digest").asText())
        && size == same.get(0).path("size").asLong(-1)
        && mediaType.equals(same.get(0).path("mediaType").asText())) {
      Optional<String> problem = wasClean ? Optional.empty() : problem(same.get(0));
      if (problem.isEmpty()) {
        return;
      }
      log.warn("replacing an entry of {}: {} ({})", file, problem.get(), same.get(0).toString());
    }
    ObjectNode desc = Json.manifestDescriptor(manifest, size, refName);
    desc.put("mediaType", mediaType);
    kept.add(desc);
    idx.set("manifests", kept);
    store.writeAtomically(file, Json.bytes(idx));
    // the entries this call did not check are as valid as they were before
    clean = wasClean ? stat() : null;
    if (recheck) {
      // checking the entry evicted a blob that other entries may need
      readRepaired();
    }
  }

  /** Writes the index (the caller made every entry valid). */
  synchronized void write(ObjectNode idx) throws IOException {
    store.writeAtomically(file, Json.bytes(idx));
    clean = stat();
    recheck = false;
  }

  private FileStat stat() {
    try {
      return FileStat.lstat(file);
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * The index, or null when it is missing or is not an OCI image index (then a copy of it is set
   * aside; the file itself stays until the rebuilt index replaces it, so a rebuild that fails or is
   * killed half-way leaves it for the next one).
   */
  private ObjectNode read() {
    byte[] bytes = bytes();
    if (bytes == null) {
      return null;
    }
    ObjectNode o = parse(bytes);
    if (o != null) {
      return o;
    }
    Path aside = file.resolveSibling("index.json.corrupt");
    log.warn(
        "{} is not an OCI image index; it is kept as {} and rebuilt from the image records",
        file,
        aside);
    try {
      store.writeAtomically(aside, bytes);
    } catch (IOException e) {
      log.warn("could not set {} aside: {}", file, e.toString());
    }
    return null;
  }

  /** The bytes of the index, or null when it is missing or cannot be read. */
  private byte[] bytes() {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      log.warn("cannot read {}: {}", file, e.toString());
      return null;
    }
  }

  /** The index, or null when it is not an OCI image index. */
  private static ObjectNode parse(byte[] bytes) {
    try {
      JsonNode n = Json.read(bytes);
      if (n instanceof ObjectNode o
          && o.path("schemaVersion").asInt() == 2
          && o.path("manifests").isArray()) {
        return o;
      }
    } catch (IOException | RuntimeException e) {
      // not JSON
    }
    return null;
  }

  /**
   * A new index of every recorded image whose manifest and blobs are valid, tagged with its digest
   * hex.
   */
  private ObjectNode rebuild() throws IOException {
    ObjectNode idx = Json.emptyIndex();
    List<String> images = new ArrayList<>();
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(store.root().resolve("records"), "*.json")) {
      for (Path r : ds) {
        String hex = r.getFileName().toString().replace(".json", "");
        if (hex.matches("[0-9a-f]{64}")) {
          images.add(hex);
        }
      }
    } catch (NoSuchFileException e) {
      // no records
    }
    images.sort(null);
    ArrayNode manifests = idx.withArray("manifests");
    for (String hex : images) {
      Digest d = new Digest(hex);
      Path blob = store.blobFile(d);
      if (!Files.isRegularFile(blob)) {
        continue;
      }
      ObjectNode desc = Json.manifestDescriptor(d, Files.size(blob), hex);
      Optional<String> problem = problem(desc);
      if (problem.isEmpty()) {
        manifests.add(desc);
      } else {
        log.info("image {} is not restored to index.json: {}", d, problem.get());
      }
    }
    log.warn("rebuilt {} with {} image(s) from the records", file, manifests.size());
    return idx;
  }

  /** Removes invalid and repeated entries; true when something was removed. */
  private boolean prune(ObjectNode idx) throws IOException {
    boolean changed = false;
    // checking one entry may evict a blob another entry, already kept, refers to: check again until
    // nothing changes
    for (int pass = 0; pass < PASSES; pass++) {
      ArrayNode kept = Json.mapper().createArrayNode();
      Set<String> refs = new HashSet<>();
      boolean removed = false;
      for (JsonNode m : idx.path("manifests")) {
        Optional<String> problem = problem(m);
        String ref = m.path("annotations").path(Json.REF_NAME).asText(null);
        if (problem.isEmpty() && ref != null && !refs.add(ref)) {
          problem = Optional.of("a second entry for tag " + ref);
        }
        if (problem.isPresent()) {
          log.warn("removing an entry from {}: {} ({})", file, problem.get(), m.toString());
          removed = true;
        } else {
          kept.add(m);
        }
      }
      idx.set("manifests", kept);
      if (!removed) {
        break;
      }
      changed = true;
    }
    return changed;
  }

  /**
   * What is wrong with an index entry, if anything. A blob found corrupt on the way is evicted
   * (with its keys); a manifest that declares a size its blob (verified) does not have describes an
   * image that cannot exist, and is deleted with its record.
   */
  private Optional<String> problem(JsonNode m) throws IOException {
    Optional<Desc> desc = Desc.of(m);
    if (desc.isEmpty()) {
      return Optional.of("not a valid descriptor");
    }
    Desc d = desc.get();
    boolean manifest = MANIFEST_TYPES.contains(d.mediaType);
    if (!manifest && !INDEX_TYPES.contains(d.mediaType)) {
      return Optional.of("media type " + d.mediaType + " is not a manifest or an image index");
    }
    Optional<String> blob = blobProblem(d);
    if (blob.isPresent()) {
      return blob;
    }
    JsonNode doc;
    try {
      doc = Json.read(Files.readAllBytes(store.blobFile(d.digest)));
    } catch (IOException | RuntimeException e) {
      return Optional.of("blob " + d.digest + " is not a JSON document");
    }
    String docType = doc.path("mediaType").asText(d.mediaType);
    if (!docType.equals(d.mediaType) || doc.path("schemaVersion").asInt() != 2) {
      return Optional.of("blob " + d.digest + " is not a " + d.mediaType);
    }
    List<JsonNode> refs = new ArrayList<>();
    if (manifest) {
      refs.add(doc.path("config"));
      doc.path("layers").forEach(refs::add);
    } else {
      doc.path("manifests").forEach(refs::add);
    }
    for (JsonNode r : refs) {
      Optional<Desc> rd = Desc.of(r);
      if (rd.isEmpty()) {
        return Optional.of("manifest " + d.digest + " holds a descriptor that is not valid");
      }
      Optional<String> p = blobProblem(rd.get());
      if (p.isPresent()) {
        if (p.get().startsWith(IMPOSSIBLE)) {
          forgetImage(d.digest);
        }
        return Optional.of("manifest " + d.digest + ": " + p.get());
      }
    }
    return Optional.empty();
  }

  private static final String IMPOSSIBLE = "declares ";

  /**
   * What is wrong with the blob a descriptor names: missing, corrupt (evicted here), or not of the
   * declared size though its content is right (the descriptor is wrong; starts with {@link
   * #IMPOSSIBLE}). Only the size is compared for a blob of the declared size that this process has
   * not hashed (large layers are hashed when an image that uses them is baked, and when they are
   * published).
   */
  private Optional<String> blobProblem(Desc d) throws IOException {
    Path p = store.blobFile(d.digest);
    FileStat st;
    try {
      st = FileStat.lstat(p);
    } catch (NoSuchFileException e) {
      return Optional.of("blob " + d.digest + " is missing");
    }
    if (st.type() != FileStat.Type.FILE) {
      return Optional.of("blob " + d.digest + " is not a regular file");
    }
    boolean small = st.size() <= 1 << 20;
    if (st.size() == d.size && !small) {
      return Optional.empty();
    }
    if (!verified.check(d.digest, p)) {
      store.corrupt(
          d.digest,
          "blob "
              + d.digest
              + " in the store is corrupt: its content does not match its digest; it is evicted");
      store.evictBlob(d.digest, "it does not match its digest");
      return Optional.of("blob " + d.digest + " is corrupt (evicted)");
    }
    if (st.size() != d.size) {
      return Optional.of(
          IMPOSSIBLE
              + "size "
              + d.size
              + " for blob "
              + d.digest
              + ", which has "
              + st.size()
              + " bytes");
    }
    return Optional.empty();
  }

  /** Deletes a manifest that cannot describe a real image, and its records. */
  private void forgetImage(Digest manifest) throws IOException {
    log.warn(
        "manifest {} declares a blob size that its verified blob does not have; removing it and its record",
        manifest);
    Files.deleteIfExists(store.blobFile(manifest));
    verified.forget(manifest);
    Files.deleteIfExists(store.recordPath(manifest));
    StoreFiles.deleteTree(store.root().resolve("records").resolve(manifest.hex()));
  }

  /** A well-formed descriptor. */
  private record Desc(String mediaType, Digest digest, long size) {
    static Optional<Desc> of(JsonNode n) {
      if (!n.isObject()
          || !n.path("size").isIntegralNumber()
          || n.path("size").asLong() < 0
          || !n.path("mediaType").isTextual()) {
        return Optional.empty();
      }
      try {
        return Optional.of(
            new Desc(
                n.path("mediaType").asText(),
                Digest.parse(n.path("digest").asText()),
                n.path("size").asLong()));
      } catch (RuntimeException e) {
        return Optional.empty();
      }
    }
  }
}
