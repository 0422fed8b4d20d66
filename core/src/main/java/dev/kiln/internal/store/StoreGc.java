package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.RetentionReport;
import dev.kiln.internal.oci.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local store's garbage collection ({@code docs/lifecycle.md}, "The local store").
 *
 * <p>It looks at the store without a lock (a scan), decides what goes (a plan), then, under the
 * exclusive side of {@code locks/gc.lock} and the index lock, checks the plan against what changed
 * meanwhile and deletes: what a live session leases, a key entry or image record touched or written
 * since the scan, an image named since, and every blob something written since refers to, stay.
 * Deletions go references first: image records, then {@code index.json} entries, key entries, disk
 * infos, and only then blobs, disks and chunk indexes, so a collection killed at any point leaves
 * blobs nothing refers to, never a reference to a missing blob.
 */
final class StoreGc {
  private static final Logger log = LoggerFactory.getLogger(StoreGc.class);
  private static final Pattern REF = Pattern.compile("sha256:([0-9a-f]{64})");
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

  /** JSON blobs (manifests, indexes, configs) larger than this are not read for references. */
  private static final long DOCUMENT_LIMIT = 4L << 20;

  private final LocalStore store;
  private final Path root;
  private final StoreLeases leases;
  private final VerifiedBlobs verified;
  private final StoreIndex index;

  StoreGc(LocalStore store, StoreLeases leases, VerifiedBlobs verified, StoreIndex index) {
    this.store = store;
    this.root = store.root();
    this.leases = leases;
    this.verified = verified;
    this.index = index;
  }

  private record Blob(String hex, long bytes, long mtime) {}

  private record Key(String hex, String blob, long mtime, long bytes) {}

  private record Disk(String hex, long bytes, long mtime, String layerKey) {}

  private static final class Image {
    final String hex;
    final Set<String> names = new TreeSet<>();
    final Set<String> indexNames = new HashSet<>();
    final Set<String> layerKeys = new HashSet<>();
    final Set<String> refs = new HashSet<>();

    /** Each record file of the image and its mtime at the scan. */
    final Map<Path, Long> files = new HashMap<>();

    long lastUse;
    boolean manifestMissing;

    Image(String hex) {
      this.hex = hex;
    }
  }

  private final Map<String, Blob> blobs = new HashMap<>();
  private final Map<String, Image> images = new LinkedHashMap<>();
  private final Map<String, Key> keys = new LinkedHashMap<>();
  private final Map<String, Disk> disks = new LinkedHashMap<>();
  private final Map<String, Set<String>> documentRefs = new HashMap<>();
  private final Map<String, Set<String>> children = new HashMap<>();

  private final Map<String, String> removeImages = new LinkedHashMap<>();
  private final Map<String, String> removeKeys = new LinkedHashMap<>();
  private final Map<String, String> removeDisks = new LinkedHashMap<>();
  private final Map<String, String> removeBlobs = new LinkedHashMap<>();
  private final List<RetentionReport.Item> kept = new ArrayList<>();
  private final Map<String, Integer> refCount = new HashMap<>();

  RetentionReport run(GcPolicy policy) throws IOException {
    long start = System.nanoTime();
    long now = System.currentTimeMillis();
    scan();
    plan(policy, now);
    boolean any =
        !removeImages.isEmpty()
            || !removeKeys.isEmpty()
            || !removeDisks.isEmpty()
            || !removeBlobs.isEmpty();
    if (!policy.isDryRun() && any) {
      execute();
    }
    List<RetentionReport.Item> removed = new ArrayList<>();
    long freed = 0;
    for (Map.Entry<String, String> e : removeImages.entrySet()) {
      removed.add(new RetentionReport.Item("image", "sha256:" + e.getKey(), 0, e.getValue()));
    }
    for (Map.Entry<String, String> e : removeKeys.entrySet()) {
      removed.add(new RetentionReport.Item("key", "sha256:" + e.getKey(), 0, e.getValue()));
    }
    for (Map.Entry<String, String> e : removeDisks.entrySet()) {
      long b = disks.get(e.getKey()).bytes();
      freed += b;
      removed.add(new RetentionReport.Item("disk", "sha256:" + e.getKey(), b, e.getValue()));
    }
    for (Map.Entry<String, String> e : removeBlobs.entrySet()) {
      long b = blobs.get(e.getKey()).bytes();
      freed += b;
      removed.add(new RetentionReport.Item("blob", "sha256:" + e.getKey(), b, e.getValue()));
    }
    RetentionReport r =
        new RetentionReport(
            "store " + root,
            policy.isDryRun(),
            removed,
            kept,
            freed,
            (System.nanoTime() - start) / 1_000_000);
    log.info("garbage collection of {}", r.summary());
    return r;
  }

  /** The bytes of the blobs and disks under {@code root}, by their sizes. */
  static long size(Path root) throws IOException {
    long total = 0;
    for (Path dir : List.of(root.resolve("blobs").resolve("sha256"), root.resolve("disks"))) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        for (Path p : ds) {
          try {
            total +=
                Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                    .size();
          } catch (NoSuchFileException e) {
            // removed meanwhile
          }
        }
      } catch (NoSuchFileException e) {
        // no disks
      }
    }
    return total;
  }

  // ---- scan ----

  private void scan() throws IOException {
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(root.resolve("blobs").resolve("sha256"))) {
      for (Path p : ds) {
        String hex = p.getFileName().toString();
        BasicFileAttributes a = attributes(p);
        if (a != null && a.isRegularFile() && HEX.matcher(hex).matches()) {
          blobs.put(hex, new Blob(hex, a.size(), a.lastModifiedTime().toMillis()));
        }
      }
    }
    scanKeys();
    scanImages();
    scanDisks();
  }

  private static BasicFileAttributes attributes(Path p) {
    try {
      return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      return null;
    }
  }

  private static long mtime(Path p) {
    BasicFileAttributes a = attributes(p);
    return a == null ? -1 : a.lastModifiedTime().toMillis();
  }

  private void scanKeys() throws IOException {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve("keys"), "*.json")) {
      for (Path p : ds) {
        Key k = readKey(p);
        if (k != null) {
          keys.put(k.hex(), k);
        }
      }
    }
  }

  /** The key entry at {@code p}; its blob null when it does not read; null when it is gone. */
  private static Key readKey(Path p) {
    String hex = p.getFileName().toString().replace(".json", "");
    if (!HEX.matcher(hex).matches()) {
      return null;
    }
    BasicFileAttributes a = attributes(p);
    if (a == null) {
      return null;
    }
    String blob;
    try {
      blob = Digest.parse(Json.read(Files.readAllBytes(p)).path("digest").asText()).hex();
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException | RuntimeException e) {
      blob = null;
    }
    return new Key(hex, blob, a.lastModifiedTime().toMillis(), a.size());
  }

  private void scanImages() throws IOException {
    JsonNode idx = readIndex();
    if (idx != null) {
      for (JsonNode m : idx.path("manifests")) {
        String hex = hexOf(m.path("digest").asText());
        if (hex != null) {
          Image img = images.computeIfAbsent(hex, Image::new);
          String ref = m.path("annotations").path(Json.REF_NAME).asText(null);
          if (ref != null) {
            img.indexNames.add(ref);
            if (!ref.equals(hex)) {
              img.names.add(ref);
            }
          }
        }
      }
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve("records"))) {
      for (Path p : ds) {
        String hex = p.getFileName().toString().replace(".json", "");
        if (HEX.matcher(hex).matches()) {
          images.computeIfAbsent(hex, Image::new);
        }
      }
    }
    for (Image img : images.values()) {
      readImage(img);
    }
  }

  private JsonNode readIndex() {
    try {
      JsonNode n = Json.read(Files.readAllBytes(root.resolve("index.json")));
      return n.isObject() && n.path("manifests").isArray() ? n : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static String hexOf(String digest) {
    try {
      return Digest.parse(digest).hex();
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Reads an image's records, names, layer keys, last use and the blobs it refers to. */
  private void readImage(Image img) throws IOException {
    Path record = root.resolve("records").resolve(img.hex + ".json");
    List<Path> files = new ArrayList<>();
    files.add(record);
    Path dir = root.resolve("records").resolve(img.hex);
    if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        ds.forEach(files::add);
      }
    }
    for (Path f : files) {
      long m = mtime(f);
      if (m < 0) {
        continue;
      }
      img.files.put(f, m);
      img.lastUse = Math.max(img.lastUse, m);
      String text;
      try {
        text = Files.readString(f, StandardCharsets.UTF_8);
      } catch (IOException | RuntimeException e) {
        continue;
      }
      addRefs(text, img.refs);
      try {
        JsonNode n = Json.read(text.getBytes(StandardCharsets.UTF_8));
        if (f.equals(record)) {
          for (JsonNode l : n.path("layers")) {
            String k = hexOf(l.path("key").asText(""));
            if (k != null) {
              img.layerKeys.add(k);
            }
          }
        } else if (n.path("target").isTextual()) {
          img.names.add(n.path("target").asText());
        }
      } catch (IOException | RuntimeException e) {
        // a damaged record: its references still count
      }
    }
    long manifestMtime = mtime(store.blobFile(new Digest(img.hex)));
    if (manifestMtime < 0) {
      img.manifestMissing = true;
      img.refs.retainAll(blobs.keySet());
      return;
    }
    if (img.lastUse == 0) {
      img.lastUse = manifestMtime;
    }
    img.refs.add(img.hex);
    Set<String> seen = new HashSet<>();
    List<String> todo = new ArrayList<>(List.of(img.hex));
    while (!todo.isEmpty()) {
      String hex = todo.remove(todo.size() - 1);
      if (!seen.add(hex)) {
        continue;
      }
      img.refs.addAll(documentRefs(hex));
      todo.addAll(children.getOrDefault(hex, Set.of()));
    }
    img.refs.retainAll(blobs.keySet());
  }

  /**
   * The blobs a manifest or an image index names (its config and layers, the manifests it lists);
   * the manifests an index lists are kept in {@link #children}, to be read in turn. Configs and
   * layers are not opened.
   */
  private Set<String> documentRefs(String hex) {
    Set<String> cached = documentRefs.get(hex);
    if (cached != null) {
      return cached;
    }
    Set<String> out = new HashSet<>();
    Path p = store.blobFile(new Digest(hex));
    BasicFileAttributes a = attributes(p);
    // read from the file, not the scan: a manifest written since the scan names what stays
    if (a != null && a.isRegularFile() && a.size() <= DOCUMENT_LIMIT) {
      try (InputStream in = Files.newInputStream(p)) {
        int first = in.read();
        if (first == '{') {
          String text = "{" + new String(in.readAllBytes(), StandardCharsets.UTF_8);
          addRefs(text, out);
          out.remove(hex);
          Set<String> listed = new HashSet<>();
          for (JsonNode m : Json.read(text.getBytes(StandardCharsets.UTF_8)).path("manifests")) {
            String child = hexOf(m.path("digest").asText());
            if (child != null) {
              listed.add(child);
            }
          }
          children.put(hex, listed);
        }
      } catch (IOException e) {
        // gone or unreadable: it names nothing
      } catch (RuntimeException e) {
        // not JSON: what the text names still counts
      }
    }
    documentRefs.put(hex, out);
    return out;
  }

  private static void addRefs(String text, Set<String> out) {
    Matcher m = REF.matcher(text);
    while (m.find()) {
      out.add(m.group(1));
    }
  }

  private void scanDisks() throws IOException {
    Path dir = root.resolve("disks");
    if (!Files.isDirectory(dir)) {
      return;
    }
    Map<String, long[]> found = new LinkedHashMap<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        int dot = name.indexOf('.');
        String hex = dot < 0 ? name : name.substring(0, dot);
        BasicFileAttributes a = attributes(p);
        if (a == null || !HEX.matcher(hex).matches()) {
          continue;
        }
        long[] f = found.computeIfAbsent(hex, h -> new long[2]);
        f[0] += a.size();
        if (name.endsWith(".json") || f[1] == 0) {
          f[1] = a.lastModifiedTime().toMillis();
        }
      }
    }
    for (Map.Entry<String, long[]> e : found.entrySet()) {
      String layerKey = null;
      try {
        layerKey =
            hexOf(
                Json.read(Files.readAllBytes(dir.resolve(e.getKey() + ".json")))
                    .path("layerKey")
                    .asText(""));
      } catch (IOException | RuntimeException ex) {
        // no info: the disk is built again anyway
      }
      disks.put(e.getKey(), new Disk(e.getKey(), e.getValue()[0], e.getValue()[1], layerKey));
    }
  }

  // ---- plan ----

  private void plan(GcPolicy policy, long now) {
    Map<String, String> keepImages = new HashMap<>();
    for (Digest d : policy.pinned()) {
      if (images.containsKey(d.hex())) {
        keepImages.put(d.hex(), "pinned");
      }
    }
    policy
        .keepRecent()
        .ifPresent(
            age -> {
              for (Image img : images.values()) {
                if (img.lastUse >= now - age.toMillis()) {
                  keepImages.putIfAbsent(img.hex, "used within " + human(age));
                }
              }
            });
    policy
        .keepLast()
        .ifPresent(
            n -> {
              Map<String, List<Image>> byName = new HashMap<>();
              for (Image img : images.values()) {
                for (String name : img.names) {
                  byName.computeIfAbsent(name, k -> new ArrayList<>()).add(img);
                }
              }
              byName.forEach(
                  (name, list) -> {
                    list.sort(Comparator.comparingLong((Image i) -> i.lastUse).reversed());
                    for (Image img : list.subList(0, Math.min(n, list.size()))) {
                      keepImages.putIfAbsent(img.hex, "one of the last " + n + " of " + name);
                    }
                  });
            });
    // an image index kept keeps the images it lists
    List<String> todo = new ArrayList<>(keepImages.keySet());
    while (!todo.isEmpty()) {
      Image img = images.get(todo.remove(todo.size() - 1));
      for (String r : img.refs) {
        if (!r.equals(img.hex) && images.containsKey(r) && !keepImages.containsKey(r)) {
          keepImages.put(r, "listed by kept image index sha256:" + img.hex);
          todo.add(r);
        }
      }
    }
    Map<String, String> keepKeys = new HashMap<>();
    for (String hex : keepImages.keySet()) {
      for (String k : images.get(hex).layerKeys) {
        keepKeys.putIfAbsent(k, "a layer of kept image sha256:" + hex);
      }
    }
    Map<String, String> keepDisks = new HashMap<>();
    for (Disk d : disks.values()) {
      if (d.layerKey() != null && keepKeys.containsKey(d.layerKey())) {
        keepDisks.put(d.hex(), "the disk of a kept image");
      }
    }

    // every reference counted; a blob no image or key names is an orphan
    for (Image img : images.values()) {
      img.refs.forEach(r -> refCount.merge(r, 1, Integer::sum));
    }
    for (Key k : keys.values()) {
      if (k.blob() != null && blobs.containsKey(k.blob())) {
        refCount.merge(k.blob(), 1, Integer::sum);
      }
    }
    long total = 0;
    for (Blob b : blobs.values()) {
      total += b.bytes();
      if (!refCount.containsKey(b.hex())) {
        if (b.mtime() < now - policy.grace().toMillis()) {
          removeBlobs.put(b.hex(), "nothing refers to it");
          total -= b.bytes();
        } else {
          kept.add(
              new RetentionReport.Item(
                  "blob",
                  "sha256:" + b.hex(),
                  b.bytes(),
                  "nothing refers to it, but it is newer than the grace period of "
                      + human(policy.grace())));
        }
      }
    }
    for (Disk d : disks.values()) {
      total += d.bytes();
    }

    // references to what is not there
    for (Key k : keys.values()) {
      if (k.blob() == null) {
        removeKeys.put(k.hex(), "unreadable");
      } else if (!blobs.containsKey(k.blob())) {
        removeKeys.put(k.hex(), "its blob sha256:" + k.blob() + " is gone");
      }
    }
    for (Image img : images.values()) {
      if (img.manifestMissing && !keepImages.containsKey(img.hex)) {
        total -= removeImage(img, "its manifest is gone");
      }
    }

    // age
    if (policy.unusedFor().isPresent()) {
      Duration age = policy.unusedFor().get();
      long cutoff = now - age.toMillis();
      String why = "unused for more than " + human(age);
      for (Image img : images.values()) {
        if (img.lastUse < cutoff && !keepImages.containsKey(img.hex) && !blocked(img)) {
          total -= removeImage(img, why);
        }
      }
      for (Key k : keys.values()) {
        if (k.mtime() < cutoff && !keepKeys.containsKey(k.hex())) {
          total -= removeKey(k, why);
        }
      }
      for (Disk d : disks.values()) {
        if (d.mtime() < cutoff
            && !keepDisks.containsKey(d.hex())
            && !removeDisks.containsKey(d.hex())) {
          removeDisks.put(d.hex(), why);
          total -= d.bytes();
        }
      }
    }

    // size: least recently used first
    if (policy.maxBytes().isPresent() && total > policy.maxBytes().getAsLong()) {
      long max = policy.maxBytes().getAsLong();
      String why = "least recently used while the store held more than " + max + " bytes";
      List<Object[]> lru = new ArrayList<>();
      for (Image img : images.values()) {
        if (!keepImages.containsKey(img.hex) && !removeImages.containsKey(img.hex)) {
          lru.add(new Object[] {img.lastUse, img});
        }
      }
      for (Key k : keys.values()) {
        if (!keepKeys.containsKey(k.hex()) && !removeKeys.containsKey(k.hex())) {
          lru.add(new Object[] {k.mtime(), k});
        }
      }
      for (Disk d : disks.values()) {
        if (!keepDisks.containsKey(d.hex()) && !removeDisks.containsKey(d.hex())) {
          lru.add(new Object[] {d.mtime(), d});
        }
      }
      lru.sort(Comparator.comparingLong(o -> (Long) o[0]));
      for (Object[] o : lru) {
        if (total <= max) {
          break;
        }
        if (o[1] instanceof Image img) {
          if (!blocked(img)) {
            total -= removeImage(img, why);
          }
        } else if (o[1] instanceof Key k) {
          total -= removeKey(k, why);
        } else if (o[1] instanceof Disk d) {
          removeDisks.put(d.hex(), why);
          total -= d.bytes();
        }
      }
    }

    for (Image img : images.values()) {
      if (!removeImages.containsKey(img.hex)) {
        keep("image", img.hex, keepImages.getOrDefault(img.hex, "within the limits"));
      }
    }
    for (Key k : keys.values()) {
      if (!removeKeys.containsKey(k.hex())) {
        keep("key", k.hex(), keepKeys.getOrDefault(k.hex(), "within the limits"));
      }
    }
    for (Disk d : disks.values()) {
      if (!removeDisks.containsKey(d.hex())) {
        keep("disk", d.hex(), keepDisks.getOrDefault(d.hex(), "within the limits"));
      }
    }
  }

  private void keep(String kind, String hex, String why) {
    kept.add(new RetentionReport.Item(kind, "sha256:" + hex, 0, why));
  }

  /** Whether another image (an image index) still lists this one. */
  private boolean blocked(Image img) {
    return refCount.getOrDefault(img.hex, 0) > 1;
  }

  /** Plans an image's removal; returns the bytes of the blobs that no longer have a reference. */
  private long removeImage(Image img, String why) {
    removeImages.put(img.hex, why);
    long freed = 0;
    for (String r : img.refs) {
      freed += release(r, "only image sha256:" + img.hex + " used it");
    }
    return freed;
  }

  private long removeKey(Key k, String why) {
    removeKeys.put(k.hex(), why);
    return k.blob() == null ? 0 : release(k.blob(), "only key sha256:" + k.hex() + " used it");
  }

  private long release(String blob, String why) {
    Integer n = refCount.get(blob);
    if (n == null) {
      return 0;
    }
    if (n > 1) {
      refCount.put(blob, n - 1);
      return 0;
    }
    refCount.remove(blob);
    removeBlobs.put(blob, why);
    return blobs.get(blob).bytes();
  }

  private static String human(Duration d) {
    if (d.toDays() > 0 && d.equals(Duration.ofDays(d.toDays()))) {
      return d.toDays() + " days";
    }
    if (d.toHours() > 0 && d.equals(Duration.ofHours(d.toHours()))) {
      return d.toHours() + " hours";
    }
    return d.toString();
  }

  // ---- execute ----

  private void execute() throws IOException {
    try (StoreLeases.GcLock.Held gc = leases.exclusive();
        LocalStore.StoreLock ix = store.lock("index")) {
      Set<String> live = StoreLeases.live(root.resolve("tmp"));
      Set<String> keepRefs = new HashSet<>();
      JsonNode idx = readIndex();

      // images: leased, touched, named or completed since the scan stay
      Map<String, Set<String>> namesNow = new HashMap<>();
      if (idx != null) {
        for (JsonNode m : idx.path("manifests")) {
          String hex = hexOf(m.path("digest").asText());
          if (hex != null) {
            Set<String> names = namesNow.computeIfAbsent(hex, h -> new HashSet<>());
            String ref = m.path("annotations").path(Json.REF_NAME).asText(null);
            if (ref != null) {
              names.add(ref);
            }
          }
        }
      }
      for (String hex : List.copyOf(removeImages.keySet())) {
        Image img = images.get(hex);
        String why = null;
        if (live.contains("b " + hex)) {
          why = "in use by a running bake";
        } else if (recordsChanged(img)) {
          why = "used during the collection";
        } else if (!img.indexNames.containsAll(namesNow.getOrDefault(hex, Set.of()))) {
          why = "named during the collection";
        } else if (img.manifestMissing && Files.exists(store.blobFile(new Digest(hex)))) {
          why = "its manifest was written during the collection";
        }
        if (why != null) {
          removeImages.remove(hex);
          keep("image", hex, why);
        }
      }
      // images that are new since the scan, or kept above: what they refer to stays
      Set<String> newImages = new HashSet<>(namesNow.keySet());
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve("records"))) {
        for (Path p : ds) {
          String hex = p.getFileName().toString().replace(".json", "");
          if (HEX.matcher(hex).matches()) {
            newImages.add(hex);
          }
        }
      }
      newImages.removeAll(images.keySet());
      for (String hex : newImages) {
        Image img = new Image(hex);
        readImage(img);
        keepRefs.addAll(img.refs);
        keepRefs.add(hex);
      }

      // keys: used or written since the scan stay; new keys' blobs stay
      Set<String> keysSeen = new HashSet<>();
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve("keys"), "*.json")) {
        for (Path p : ds) {
          Key now = readKey(p);
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
              keep("key", now.hex(), "used during the collection");
            }
          }
        }
      }
      removeKeys.keySet().retainAll(keysSeen);

      // disks: leased or used since the scan stay
      for (String hex : List.copyOf(removeDisks.keySet())) {
        long m = mtime(root.resolve("disks").resolve(hex + ".json"));
        if (live.contains("d " + hex)) {
          removeDisks.remove(hex);
          keep("disk", hex, "in use by a running bake");
        } else if (m >= 0 && m != disks.get(hex).mtime()) {
          removeDisks.remove(hex);
          keep("disk", hex, "used during the collection");
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
          why = "in use by a running bake";
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
    Path record = root.resolve("records").resolve(img.hex + ".json");
    List<Path> files = new ArrayList<>();
    files.add(record);
    Path dir = root.resolve("records").resolve(img.hex);
    if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        ds.forEach(files::add);
      }
    }
    for (Path f : files) {
      long m = mtime(f);
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
        String hex = hexOf(m.path("digest").asText());
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
