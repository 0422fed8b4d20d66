package dev.kiln.internal.store;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.Digest;
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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the store holds and what refers to what, read without a lock for {@link StoreGc}: the blobs,
 * key entries, images (from {@code index.json} and {@code records/}) and disks, each with its size
 * and last use, and the blobs each image refers to through its manifests and image indexes. The
 * locked phase ({@link GcSweep}) reads what changed since with the same methods.
 */
final class GcScan {
  private static final Pattern REF = Pattern.compile("sha256:([0-9a-f]{64})");
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

  /** JSON blobs (manifests, indexes, configs) larger than this are not read for references. */
  private static final long DOCUMENT_LIMIT = 4L << 20;

  private final LocalStore store;
  private final Path root;

  GcScan(LocalStore store) {
    this.store = store;
    this.root = store.root();
  }

  record Blob(String hex, long bytes, long mtime) {}

  record Key(String hex, String blob, long mtime, long bytes) {}

  record Disk(String hex, long bytes, long mtime, String layerKey) {}

  static final class Image {
    final String hex;
    final Set<String> names = new TreeSet<>();
    final Set<String> indexNames = new HashSet<>();
    final Set<String> layerKeys = new HashSet<>();
    final Set<String> refs = new HashSet<>();

    /** Each record file of the image and its mtime at the scan. */
    final Map<Path, Long> files = new HashMap<>();

    long lastUse;
    boolean manifestMissing;

    /**
     * Why its record does not say which key entries are its layers (it has none, or it does not
     * read); null when it does. A kept image of which this is set keeps every key entry of a blob
     * it refers to instead.
     */
    String layersUnknown;

    Image(String hex) {
      this.hex = hex;
    }
  }

  final Map<String, Blob> blobs = new HashMap<>();
  final Map<String, Image> images = new LinkedHashMap<>();
  final Map<String, Key> keys = new LinkedHashMap<>();
  final Map<String, Disk> disks = new LinkedHashMap<>();
  private final Map<String, Set<String>> documentRefs = new HashMap<>();
  private final Map<String, Set<String>> children = new HashMap<>();

  void scan() throws IOException {
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

  static long mtime(Path p) {
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
  static Key readKey(Path p) {
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
      if (a.size() > DOCUMENT_LIMIT) {
        throw new IOException("not a key entry"); // and not read into memory
      }
      blob = Digest.parse(Json.read(Files.readAllBytes(p)).path("digest").asText()).hex();
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException | RuntimeException e) {
      blob = null;
    }
    return new Key(hex, blob, a.lastModifiedTime().toMillis(), a.size());
  }

  private void scanImages() throws IOException {
    for (Map.Entry<String, Set<String>> e : indexNames(readIndex()).entrySet()) {
      Image img = images.computeIfAbsent(e.getKey(), Image::new);
      img.indexNames.addAll(e.getValue());
      for (String ref : e.getValue()) {
        if (!ref.equals(img.hex)) {
          img.names.add(ref);
        }
      }
    }
    for (String hex : recordedImages()) {
      images.computeIfAbsent(hex, Image::new);
    }
    for (Image img : images.values()) {
      readImage(img);
    }
  }

  JsonNode readIndex() {
    try {
      JsonNode n = Json.read(Files.readAllBytes(root.resolve("index.json")));
      return n.isObject() && n.path("manifests").isArray() ? n : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  static String hexOf(String digest) {
    try {
      return Digest.parse(digest).hex();
    } catch (RuntimeException e) {
      return null;
    }
  }

  /**
   * The images an {@code index.json} (null when it does not read) lists, in its order, each with
   * the names it has there.
   */
  static Map<String, Set<String>> indexNames(JsonNode idx) {
    Map<String, Set<String>> out = new LinkedHashMap<>();
    if (idx != null) {
      for (JsonNode m : idx.path("manifests")) {
        String hex = hexOf(m.path("digest").asText());
        if (hex != null) {
          Set<String> names = out.computeIfAbsent(hex, h -> new HashSet<>());
          String ref = m.path("annotations").path(Json.REF_NAME).asText(null);
          if (ref != null) {
            names.add(ref);
          }
        }
      }
    }
    return out;
  }

  /** The images {@code records/} holds a record (or a directory of target records) of. */
  List<String> recordedImages() throws IOException {
    List<String> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve("records"))) {
      for (Path p : ds) {
        String hex = p.getFileName().toString().replace(".json", "");
        if (HEX.matcher(hex).matches()) {
          out.add(hex);
        }
      }
    }
    return out;
  }

  /** The record files of an image: its record, then what its targets hold of it. */
  List<Path> recordFiles(String hex) throws IOException {
    List<Path> files = new ArrayList<>();
    files.add(root.resolve("records").resolve(hex + ".json"));
    Path dir = root.resolve("records").resolve(hex);
    if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        ds.forEach(files::add);
      }
    }
    return files;
  }

  /** Reads an image's records, names, layer keys, last use and the blobs it refers to. */
  void readImage(Image img) throws IOException {
    Path record = root.resolve("records").resolve(img.hex + ".json");
    img.layersUnknown = "it has no record";
    for (Path f : recordFiles(img.hex)) {
      long m = mtime(f);
      if (m < 0) {
        continue;
      }
      img.files.put(f, m);
      img.lastUse = Math.max(img.lastUse, m);
      boolean own = f.equals(record);
      if (own) {
        img.layersUnknown = "its record " + record + " does not read";
      }
      byte[] bytes;
      try {
        if (Files.size(f) > DOCUMENT_LIMIT) {
          continue; // not a record Kiln wrote
        }
        bytes = Files.readAllBytes(f);
      } catch (IOException | RuntimeException e) {
        continue;
      }
      // decoded leniently: a record garbled in part still names what it names
      addRefs(new String(bytes, StandardCharsets.UTF_8), img.refs);
      try {
        JsonNode n = Json.read(bytes);
        if (own) {
          if (n.isObject() && n.path("layers").isArray()) {
            img.layersUnknown = null;
          }
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
}
