package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.RetentionReport;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.store.GcScan.Blob;
import dev.kiln.internal.store.GcScan.Disk;
import dev.kiln.internal.store.GcScan.Image;
import dev.kiln.internal.store.GcScan.Key;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The locked phase of {@link StoreGc}: under the exclusive side of {@code locks/gc.lock} and the
 * index lock, takes out of the {@link GcPlan} what a live session leases and what was used, named
 * or written since the {@link GcScan}, with every blob something written since refers to; then
 * deletes the rest, references first.
 */
final class GcSweep {
  private static final Logger log = LoggerFactory.getLogger(GcSweep.class);

  private final LocalStore store;
  private final Path root;
  private final StoreLeases leases;
  private final VerifiedBlobs verified;
  private final StoreIndex index;
  private final GcScan scan;
  private final GcPlan plan;
  private final Map<String, Blob> blobs;
  private final Map<String, Image> images;
  private final Map<String, Key> keys;
  private final Map<String, Disk> disks;
  private final Map<String, String> removeImages;
  private final Map<String, String> removeKeys;
  private final Map<String, String> removeDisks;
  private final Map<String, String> removeBlobs;
  private final List<RetentionReport.Item> kept;

  GcSweep(
      LocalStore store,
      StoreLeases leases,
      VerifiedBlobs verified,
      StoreIndex index,
      GcScan scan,
      GcPlan plan) {
    this.store = store;
    this.root = store.root();
    this.leases = leases;
    this.verified = verified;
    this.index = index;
    this.scan = scan;
    this.plan = plan;
    this.blobs = scan.blobs;
    this.images = scan.images;
    this.keys = scan.keys;
    this.disks = scan.disks;
    this.removeImages = plan.removeImages;
    this.removeKeys = plan.removeKeys;
    this.removeDisks = plan.removeDisks;
    this.removeBlobs = plan.removeBlobs;
    this.kept = plan.kept;
  }

  void execute() throws IOException {
    try (StoreLeases.GcLock.Held gc = leases.exclusive();
        LocalStore.StoreLock ix = store.lock("index")) {
      StoreLeases.Live live = StoreLeases.live(root.resolve("tmp"));
      for (String doubt : live.doubts()) {
        log.warn("{}: keeping every blob and disk", doubt);
      }
      Set<String> keepRefs = new HashSet<>();
      JsonNode idx = scan.readIndex();

      // images: leased, touched, named or completed since the scan stay
      Map<String, Set<String>> namesNow = GcScan.indexNames(idx);
      for (String hex : List.copyOf(removeImages.keySet())) {
        Image img = images.get(hex);
        String why = null;
        if (live.contains("b " + hex)) {
          why = live.why("b " + hex);
        } else if (recordsChanged(img)) {
          why = "used during the collection";
        } else if (!img.indexNames.containsAll(namesNow.getOrDefault(hex, Set.of()))) {
          why = "named during the collection";
        } else if (img.manifestMissing && Files.exists(store.blobFile(new Digest(hex)))) {
          why = "its manifest was written during the collection";
        }
        if (why != null) {
          removeImages.remove(hex);
          plan.keep("image", hex, why);
        }
      }
      // images that are new since the scan, or kept above: what they refer to stays
      Set<String> newImages = new HashSet<>(namesNow.keySet());
      newImages.addAll(scan.recordedImages());
      newImages.removeAll(images.keySet());
      for (String hex : newImages) {
        Image img = new Image(hex);
        scan.readImage(img);
        keepRefs.addAll(img.refs);
        keepRefs.add(hex);
      }

      // keys: used or written since the scan stay; new keys' blobs stay
      Set<String> keysSeen = new HashSet<>();
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve("keys"), "*.json")) {
        for (Path p : ds) {
          Key now = GcScan.readKey(p);
          if (now == null) {
            continue;
          }
          keysSeen.add(now.hex());
          Key then = keys.get(now.hex());
          if (then == null || then.mtime() != now.mtime() || !equal(then.blob(), now.blob())) {
            if (now.blob() != null) {
              keepRefs.add(now.blob());
            }
            if (removeKeys.remove(now.hex()) != null) {
              plan.keep("key", now.hex(), "used during the collection");
            }
          }
        }
      }
      removeKeys.keySet().retainAll(keysSeen);

      // disks: leased or used since the scan stay
      for (String hex : List.copyOf(removeDisks.keySet())) {
        long m = GcScan.mtime(root.resolve("disks").resolve(hex + ".json"));
        if (live.contains("d " + hex)) {
          removeDisks.remove(hex);
          plan.keep("disk", hex, live.why("d " + hex));
        } else if (m >= 0 && m != disks.get(hex).mtime()) {
          removeDisks.remove(hex);
          plan.keep("disk", hex, "used during the collection");
        }
      }

      // blobs: what anything left refers to, or a running bake uses, stays
      for (Image img : images.values()) {
        if (!removeImages.containsKey(img.hex)) {
          keepRefs.addAll(img.refs);
        }
      }
      for (Key k : keys.values()) {
        if (!removeKeys.containsKey(k.hex()) && k.blob() != null) {
          keepRefs.add(k.blob());
        }
      }
      for (String hex : List.copyOf(removeBlobs.keySet())) {
        String why = null;
        if (live.contains("b " + hex)) {
          why = live.why("b " + hex);
        } else if (keepRefs.contains(hex)) {
          why = "used during the collection";
        }
        if (why != null) {
          removeBlobs.remove(hex);
          kept.add(new RetentionReport.Item("blob", "sha256:" + hex, blobs.get(hex).bytes(), why));
        }
      }

      delete(idx);
    }
  }

  private static boolean equal(String a, String b) {
    return a == null ? b == null : a.equals(b);
  }

  /** Whether a record of the image was written or touched since the scan. */
  private boolean recordsChanged(Image img) throws IOException {
    for (Path f : scan.recordFiles(img.hex)) {
      long m = GcScan.mtime(f);
      if (m >= 0 && !Long.valueOf(m).equals(img.files.get(f))) {
        return true;
      }
    }
    return false;
  }

  /** Deletes, references first: records, index entries, key entries, disks, blobs, chunk hints. */
  private void delete(JsonNode idx) throws IOException {
    Path records = root.resolve("records");
    for (String hex : removeImages.keySet()) {
      Files.deleteIfExists(records.resolve(hex + ".json"));
      StoreFiles.deleteTree(records.resolve(hex));
    }
    if (idx instanceof ObjectNode o && !removeImages.isEmpty()) {
      ArrayNode kept = Json.mapper().createArrayNode();
      boolean changed = false;
      for (JsonNode m : o.path("manifests")) {
        String hex = GcScan.hexOf(m.path("digest").asText());
        if (hex != null && removeImages.containsKey(hex)) {
          changed = true;
        } else {
          kept.add(m);
        }
      }
      if (changed) {
        o.set("manifests", kept);
        store.writeAtomically(root.resolve("index.json"), Json.bytes(o));
        index.invalidate();
      }
    }
    for (String hex : removeKeys.keySet()) {
      Files.deleteIfExists(root.resolve("keys").resolve(hex + ".json"));
    }
    Path diskDir = root.resolve("disks");
    for (String hex : removeDisks.keySet()) {
      Files.deleteIfExists(diskDir.resolve(hex + ".json"));
      Files.deleteIfExists(diskDir.resolve(hex + ".raw"));
    }
    Path chunks = root.resolve("chunks");
    for (String hex : removeBlobs.keySet()) {
      Digest d = new Digest(hex);
      Files.deleteIfExists(store.blobFile(d));
      verified.forget(d);
      Files.deleteIfExists(chunks.resolve(hex));
    }
    index.invalidate();
    Path lineage = chunks.resolve("lineage");
    if (Files.isDirectory(lineage) && !removeBlobs.isEmpty()) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(lineage)) {
        for (Path p : ds) {
          try {
            if (removeBlobs.containsKey(Files.readString(p).strip())) {
              Files.deleteIfExists(p);
            }
          } catch (IOException e) {
            // a hint: left as it is
          }
        }
      }
    }
  }
}
