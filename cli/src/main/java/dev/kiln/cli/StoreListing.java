package dev.kiln.cli;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The images of a local store, read from what the store documents (docs/concepts.md, "The local
 * store"): {@code index.json} (every image under its digest hex, and the names given to it), {@code
 * records/<image>.json} (the image record) and {@code records/<image>/} (one record per
 * publication). Reads only; a file it cannot read leaves a field empty rather than failing the
 * listing. An image whose manifest blob is missing or does not hash to its digest is listed as
 * damaged ({@link Image#damage}), never with what the changed blob says.
 */
final class StoreListing {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String REF_NAME = "org.opencontainers.image.ref.name";

  /**
   * One publication of an image: the target as written, when, and what the target said it holds.
   * {@code kiln inspect --json} prints it with its properties in this order.
   */
  @JsonPropertyOrder({"target", "at", "reused", "details"})
  record Publication(String target, String at, boolean reused, JsonNode details) {}

  /** An image of the store. */
  record Image(
      Digest digest,
      List<String> names,
      Optional<String> baked,
      long size,
      int layers,
      Optional<JsonNode> record,
      List<Publication> publications,
      Optional<String> damage) {

    /** The targets it was published to, each once, in the order first published. */
    List<String> targets() {
      List<String> out = new ArrayList<>();
      for (Publication p : publications) {
        if (!out.contains(p.target())) {
          out.add(p.target());
        }
      }
      return out;
    }
  }

  private final Path root;
  private String indexDamage; // set by tags() when index.json cannot be read

  StoreListing(Path root) {
    this.root = root;
  }

  /**
   * Why the store's {@code index.json} could not be read, when the last listing had to take the
   * images from the image records instead (as the store's own repair does: every image with a
   * record and its manifest blob, without the names given to it).
   */
  Optional<String> indexDamage() {
    return Optional.ofNullable(indexDamage);
  }

  /** The warning a command prints when the listing came from the records. */
  Optional<String> indexWarning() {
    return indexDamage()
        .map(
            why ->
                "kiln: the store's index.json at "
                    + root.resolve("index.json")
                    + " is damaged ("
                    + why
                    + "): images are listed from their records, without their names; the next"
                    + " bake or 'kiln gc' rebuilds it");
  }

  /** Every image, newest first (those without a record, as imported ones, last). */
  List<Image> images() throws IOException {
    Map<Digest, List<String>> tags = tags();
    List<Image> out = new ArrayList<>();
    for (Map.Entry<Digest, List<String>> e : tags.entrySet()) {
      Optional<Image> i = image(e.getKey(), e.getValue());
      if (indexDamage != null && i.isPresent() && i.get().damage().isPresent()) {
        continue; // from the records: what the store's rebuild would not restore is not listed
      }
      i.ifPresent(out::add);
    }
    out.sort(
        Comparator.comparing((Image i) -> i.baked().orElse(""))
            .reversed()
            .thenComparing(Image::digest));
    return out;
  }

  /**
   * The image {@code ref} names: a digest ({@code sha256:…} or its hex), a unique prefix of at
   * least 4 hex digits, a name given in the store, or a target it was published to (the latest
   * image published there).
   */
  Image resolve(String ref) throws IOException {
    List<Image> all = images();
    String hex = ref.startsWith("sha256:") ? ref.substring("sha256:".length()) : ref;
    if (hex.matches("[0-9a-f]{4,64}")) {
      List<Image> found = all.stream().filter(i -> i.digest().hex().startsWith(hex)).toList();
      if (found.size() == 1) {
        return found.get(0);
      }
      if (found.size() > 1) {
        throw new Exit.CliException(
            Exit.USAGE,
            "'"
                + ref
                + "' is the start of "
                + found.size()
                + " images' digests in the store at "
                + root
                + ": give more digits");
      }
    }
    for (Image i : all) {
      if (i.names().contains(ref)) {
        return i;
      }
    }
    Image latest = null;
    String latestAt = "";
    for (Image i : all) {
      for (Publication p : i.publications()) {
        if (p.target().equals(ref) && p.at().compareTo(latestAt) >= 0) {
          latest = i;
          latestAt = p.at();
        }
      }
    }
    if (latest != null) {
      return latest;
    }
    throw new Exit.CliException(
        Exit.NOT_FOUND,
        "no image '"
            + ref
            + "' in the store at "
            + root
            + ": give a digest, a name or a target it was published to (see 'kiln images')"
            + indexDamage()
                .map(
                    why ->
                        "; its index.json is damaged ("
                            + why
                            + "), so names are unknown until the next bake or 'kiln gc' rebuilds it")
                .orElse(""));
  }

  /**
   * The images of index.json with their names (tags other than the digest hex), in the index's
   * order.
   */
  private Map<Digest, List<String>> tags() throws IOException {
    byte[] bytes;
    indexDamage = null;
    try {
      bytes = Files.readAllBytes(root.resolve("index.json"));
    } catch (NoSuchFileException e) {
      return Map.of();
    }
    JsonNode index;
    try {
      index = JSON.readTree(bytes);
    } catch (IOException e) {
      // not JSON: the parser's message without the location it appends
      String why = String.valueOf(e.getMessage());
      int at = why.indexOf("\n at [");
      indexDamage = (at > 0 ? why.substring(0, at) : why).strip();
      return fromRecords();
    }
    if (index == null || !index.isObject() || !index.path("manifests").isArray()) {
      indexDamage = "it holds no list of manifests";
      return fromRecords();
    }
    Map<Digest, List<String>> out = new LinkedHashMap<>();
    for (JsonNode m : index.path("manifests")) {
      Digest d;
      try {
        d = Digest.parse(m.path("digest").asText());
      } catch (IllegalArgumentException e) {
        continue;
      }
      List<String> names = out.computeIfAbsent(d, k -> new ArrayList<>());
      String ref = m.path("annotations").path(REF_NAME).asText("");
      if (!ref.isEmpty() && !ref.equals(d.hex())) {
        names.add(ref);
      }
    }
    return out;
  }

  /**
   * The images with a record (records/HEX.json) and a manifest blob, without names, in digest
   * order.
   */
  private Map<Digest, List<String>> fromRecords() throws IOException {
    TreeSet<String> hexes = new TreeSet<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve("records"), "*.json")) {
      for (Path r : ds) {
        String hex = r.getFileName().toString().replace(".json", "");
        if (hex.matches("[0-9a-f]{64}")
            && Files.isRegularFile(root.resolve("blobs/sha256").resolve(hex))) {
          hexes.add(hex);
        }
      }
    } catch (NoSuchFileException e) {
      return Map.of();
    }
    Map<Digest, List<String>> out = new LinkedHashMap<>();
    for (String hex : hexes) {
      out.put(new Digest(hex), new ArrayList<>());
    }
    return out;
  }

  private Optional<Image> image(Digest digest, List<String> names) {
    byte[] raw;
    try {
      raw = Files.readAllBytes(root.resolve("blobs/sha256").resolve(digest.hex()));
    } catch (NoSuchFileException e) {
      return Optional.of(damaged(digest, names, "its manifest blob is missing"));
    } catch (IOException e) {
      return Optional.of(damaged(digest, names, "its manifest blob cannot be read: " + e));
    }
    if (!Digest.of(raw).equals(digest)) {
      return Optional.of(
          damaged(digest, names, "its manifest blob does not match its digest (changed on disk)"));
    }
    JsonNode manifest;
    try {
      manifest = JSON.readTree(raw);
    } catch (IOException e) {
      return Optional.of(damaged(digest, names, "its manifest is not JSON"));
    }
    if (!manifest.path("layers").isArray()) {
      return Optional.empty(); // not an image manifest (an index): not listed
    }
    long size = manifest.path("config").path("size").asLong();
    for (JsonNode l : manifest.path("layers")) {
      size += l.path("size").asLong();
    }
    JsonNode record = read(root.resolve("records").resolve(digest.hex() + ".json"));
    if (record != null && !digest.toString().equals(record.path("image").asText())) {
      record = null;
    }
    Optional<String> baked =
        record == null
            ? Optional.empty()
            : Optional.of(record.path("firstBaked").asText("")).filter(s -> !s.isEmpty());
    return Optional.of(
        new Image(
            digest,
            List.copyOf(new TreeSet<>(names)),
            baked,
            size,
            manifest.path("layers").size(),
            Optional.ofNullable(record),
            publications(digest),
            Optional.empty()));
  }

  /** An image of the index whose manifest cannot be trusted: only its names and publications. */
  private Image damaged(Digest digest, List<String> names, String why) {
    return new Image(
        digest,
        List.copyOf(new TreeSet<>(names)),
        Optional.empty(),
        -1,
        0,
        Optional.empty(),
        publications(digest),
        Optional.of(why));
  }

  private List<Publication> publications(Digest digest) {
    Path dir = root.resolve("records").resolve(digest.hex());
    List<Publication> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
      for (Path p : ds) {
        JsonNode r = read(p);
        if (r != null && r.path("target").isTextual()) {
          out.add(
              new Publication(
                  r.path("target").asText(),
                  r.path("at").asText(""),
                  r.path("reused").asBoolean(),
                  r.path("details")));
        }
      }
    } catch (IOException e) {
      // unreadable: no publications shown
    }
    out.sort(Comparator.comparing(Publication::at));
    return out;
  }

  private static JsonNode read(Path p) {
    try {
      return JSON.readTree(Files.readAllBytes(p));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
