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
import dev.kiln.spi.Attachments;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.IndexView;
import dev.kiln.spi.LocalOutput;
import dev.kiln.spi.PublishContext;
import dev.kiln.spi.TargetTempFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code oci:DIR[:TAG]}: writes the image into an OCI image layout directory (creating it) and
 * points TAG at it in index.json; a multi-platform image is written as the image of each platform
 * and an OCI image index, which TAG names. The layout holds the image when TAG names it in
 * index.json and every blob of the image is there with its size and SHA-256 (read in full), so a
 * truncated or altered blob, manifest, config or index is written again. An index.json that is not
 * valid JSON is replaced by one with the complete entries it still held, and kept beside as {@code
 * index.json.damaged-UUID}. Every file is written to a locked temp file and renamed into place;
 * temp files of writers that are gone (kill -9) are removed by the next bake of the layout.
 *
 * <p>Thread-safe. Writers of one layout, in this process or others, serialise their index.json
 * updates on a lock that holds across threads (a lock per directory in this process) and across
 * processes (a file lock), so every tag lands.
 */
final class OciLayoutStore implements ImageStore, AttestationSink {
  private static final byte[] LAYOUT =
      "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8);

  /**
   * A file lock does not exclude threads of one process: this does, per layout directory (by real
   * path).
   */
  private static final ConcurrentHashMap<Path, ReentrantLock> INDEX_LOCKS =
      new ConcurrentHashMap<>();

  private final String target;
  private final Path dir;
  private final String tag;
  private final OciLayoutSignatures signatures;

  OciLayoutStore(String target, Path dir, String tag) {
    this.target = target;
    this.dir = dir; // absolute, as TargetPaths resolves it
    this.tag = tag;
    this.signatures = new OciLayoutSignatures(this, target, dir, tag);
  }

  @Override
  public Optional<LocalOutput> localOutput() {
    return Optional.of(new LocalOutput(dir, "oci-layout", tag, true));
  }

  @Override
  public Optional<PublishedImage> find(ImageView image, PublishContext ctx) {
    sweepTempFiles();
    try {
      if (!layoutFileIsValid() || !tagged(image.digest(), image.manifest().length)) {
        return Optional.empty();
      }
      return holdsBlobs(image) ? Optional.of(published(image.digest(), true)) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  @Override
  public boolean takesIndex() {
    return true;
  }

  @Override
  public Optional<PublishedImage> findIndex(IndexView index, PublishContext ctx) {
    sweepTempFiles();
    try {
      if (!layoutFileIsValid()
          || !tagged(index.digest(), index.index().length)
          || !sameBytes(blob(index.digest()), index.index())) {
        return Optional.empty();
      }
      for (ImageView image : index.images()) {
        if (!holdsBlobs(image)) {
          return Optional.empty();
        }
      }
      return Optional.of(published(index.digest(), true));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /**
   * True when TAG names exactly this manifest or index (one entry, this digest and size) in
   * index.json.
   */
  private boolean tagged(Digest digest, long size) throws IOException {
    JsonNode index = Json.read(Files.readAllBytes(dir.resolve("index.json")));
    int entries = 0;
    boolean same = false;
    for (JsonNode m : index.path("manifests")) {
      if (tag.equals(m.path("annotations").path(Json.REF_NAME).asText())) {
        entries++;
        same =
            digest.toString().equals(m.path("digest").asText())
                && m.path("size").asLong(-1) == size;
      }
    }
    return entries == 1 && same;
  }

  private boolean holdsBlobs(ImageView image) throws IOException {
    if (!sameBytes(blob(image.digest()), image.manifest())
        || !sameBytes(blob(image.configDigest()), image.config())) {
      return false;
    }
    Set<Digest> checked = new HashSet<>();
    for (LayerRecord l : image.layers()) {
      if (checked.add(l.digest()) && !blobIsIntact(l.digest(), image.blobSize(l.digest()))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
    try {
      startLayout();
      writeImage(image, ctx);
      setTag(Json.manifestDescriptor(image.digest(), image.manifest().length, tag), ctx);
      return published(image.digest(), false);
    } catch (IOException e) {
      throw new ImageStoreException(target, "could not write the OCI layout: " + e.getMessage(), e);
    }
  }

  /**
   * Writes the image of every platform, then the index, and points TAG at the index: a reader sees
   * the old tag or the whole new multi-platform image.
   */
  @Override
  public PublishedImage publishIndex(IndexView index, PublishContext ctx) throws BakeException {
    try {
      startLayout();
      for (ImageView image : index.images()) {
        writeImage(image, ctx);
      }
      writeBlob(index.digest(), index.index());
      ObjectNode desc = Json.manifestDescriptor(index.digest(), index.index().length, tag);
      desc.put("mediaType", Json.INDEX_TYPE);
      setTag(desc, ctx);
      return published(index.digest(), false);
    } catch (IOException e) {
      throw new ImageStoreException(target, "could not write the OCI layout: " + e.getMessage(), e);
    }
  }

  /**
   * Writes the signature and attestation manifests of the image as in a registry ({@link
   * OciLayoutSignatures}).
   */
  @Override
  public void attach(PublishedImage published, Attachments a, PublishContext ctx)
      throws BakeException {
    signatures.attach(published, a, ctx);
  }

  @Override
  public Attached read(PublishContext ctx) throws BakeException {
    return signatures.read(ctx);
  }

  private void startLayout() throws IOException {
    Files.createDirectories(dir.resolve("blobs").resolve("sha256"));
    if (!layoutFileIsValid()) {
      writeAtomically(dir.resolve("oci-layout"), LAYOUT);
    }
  }

  /** Every blob of the image: layers, config and manifest (untagged). */
  private void writeImage(ImageView image, PublishContext ctx) throws IOException {
    long total = image.layers().stream().mapToLong(LayerRecord::size).sum();
    long done = 0;
    for (LayerRecord l : image.layers()) {
      copyBlob(image, l.digest());
      done += l.size();
      ctx.emit(new BakeEvent.BytesWritten(target, done, total));
    }
    writeBlob(image.configDigest(), image.config());
    writeBlob(image.digest(), image.manifest());
  }

  /** Points TAG at {@code descriptor} in index.json, replacing what it named. */
  private void setTag(ObjectNode descriptor, PublishContext ctx) throws IOException {
    setTag(tag, descriptor, ctx);
  }

  /** Points {@code tag} at {@code descriptor} in index.json, replacing what it named. */
  void setTag(String tag, ObjectNode descriptor, PublishContext ctx) throws IOException {
    lockIndex(
        () -> {
          Path index = dir.resolve("index.json");
          ObjectNode idx = readIndex(index, ctx);
          ArrayNode kept = Json.mapper().createArrayNode();
          for (JsonNode m : idx.path("manifests")) {
            if (!tag.equals(m.path("annotations").path(Json.REF_NAME).asText())) {
              kept.add(m);
            }
          }
          kept.add(descriptor);
          idx.set("manifests", kept);
          writeAtomically(index, Json.bytes(idx));
        });
  }

  /**
   * The index to update. One that is not a JSON object with a manifests array is damaged (a
   * truncated write, a hand edit): its complete entries are kept, the file itself is kept beside
   * it, and a warning says so.
   */
  private ObjectNode readIndex(Path index, PublishContext ctx) throws IOException {
    byte[] b;
    try {
      b = Files.readAllBytes(index);
    } catch (NoSuchFileException e) {
      return Json.emptyIndex();
    }
    try {
      if (Json.read(b) instanceof ObjectNode o
          && (o.path("manifests").isArray() || o.path("manifests").isMissingNode())) {
        return o;
      }
    } catch (IOException e) {
      // damaged: salvaged below
    }
    ArrayNode salvaged = IndexSalvage.salvage(b);
    String kept = "";
    if (b.length > 0) {
      Path copy = dir.resolve("index.json.damaged-" + UUID.randomUUID());
      writeAtomically(copy, b);
      kept = "; the damaged file is kept as " + copy;
    }
    ctx.emit(
        new BakeEvent.Warning(
            "index.json of the OCI layout "
                + dir
                + " is damaged ("
                + b.length
                + " bytes, not a valid "
                + "image index): kept the "
                + salvaged.size()
                + " complete entries it still held"
                + kept));
    ObjectNode idx = Json.emptyIndex();
    idx.set("manifests", salvaged);
    return idx;
  }

  private interface IndexUpdate {
    void run() throws IOException;
  }

  /**
   * Runs {@code update} holding the layout's index lock, across the threads of this process and
   * across processes.
   */
  private void lockIndex(IndexUpdate update) throws IOException {
    Path lockFile = dir.toRealPath().resolve(".kiln-index.lock");
    ReentrantLock jvm = INDEX_LOCKS.computeIfAbsent(lockFile, k -> new ReentrantLock());
    jvm.lock(); // first: this process opens the lock file only while it holds this, never beside a
    // held file lock
    try (FileChannel ch =
            FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock l = ch.lock()) {
      update.run();
    } finally {
      jvm.unlock();
    }
  }

  private PublishedImage published(Digest digest, boolean reused) {
    return new PublishedImage(target, digest, reused, Map.of("layout", dir.toString(), "tag", tag));
  }

  Path blob(Digest d) {
    return dir.resolve("blobs").resolve("sha256").resolve(d.hex());
  }

  private boolean layoutFileIsValid() {
    try {
      return Json.read(Files.readAllBytes(dir.resolve("oci-layout")))
          .path("imageLayoutVersion")
          .isTextual();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** True when the blob file has this size and this SHA-256, read in full. */
  private boolean blobIsIntact(Digest d, long size) throws IOException {
    Path p = blob(d);
    if (!Files.isRegularFile(p) || Files.size(p) != size) {
      return false;
    }
    MessageDigest sha = sha256();
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(p)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        sha.update(buf, 0, n);
      }
    }
    return Digest.fromBytes(sha.digest()).equals(d);
  }

  private boolean sameBytes(Path p, byte[] content) throws IOException {
    return Files.isRegularFile(p)
        && Files.size(p) == content.length
        && Arrays.equals(Files.readAllBytes(p), content);
  }

  private void copyBlob(ImageView image, Digest d) throws IOException {
    if (blobIsIntact(d, image.blobSize(d))) {
      return;
    }
    try (TargetTempFile tmp = TargetTempFile.create(blob(d).getParent(), "")) {
      try (OutputStream out = tmp.output();
          InputStream in = image.openBlob(d)) {
        in.transferTo(out); // the store's stream checks the digest at its end
      }
      tmp.moveTo(blob(d));
    }
  }

  void writeBlob(Digest d, byte[] content) throws IOException {
    if (!sameBytes(blob(d), content)) {
      writeAtomically(blob(d), content);
    }
  }

  private static void writeAtomically(Path dest, byte[] content) throws IOException {
    try (TargetTempFile tmp = TargetTempFile.create(dest.getParent(), "")) {
      tmp.write(content);
      tmp.moveTo(dest);
    }
  }

  /** Removes temp files that writers which are gone left in the layout. */
  private void sweepTempFiles() {
    TargetTempFile.sweep(dir, "");
    TargetTempFile.sweep(dir.resolve("blobs").resolve("sha256"), "");
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
