package dev.kiln.maven;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Attestation;
import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.DefinitionContext;
import dev.kiln.ImageBuild;
import dev.kiln.ImageDefinition;
import dev.kiln.ImageDefinitions;
import dev.kiln.InvalidTargetException;
import dev.kiln.Kiln;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.SigningKey;
import dev.kiln.Target;
import dev.kiln.event.BakeEvent;
import dev.kiln.event.BakeListener;
import dev.kiln.spi.Attestor;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.function.Consumer;

/**
 * What {@code kiln:bake} does, without Maven's types: loads the project's definitions from its
 * class path, defines their images with the project's artifacts, bakes them into the store and the
 * targets, and writes what it baked under the output directory ({@code NAME.digest}, {@code
 * NAME.json}, {@code NAME.record.json}). Every failure is a {@link BakeException} whose message is
 * one line. Public for tests; the goal is the interface.
 */
public final class PluginBake {
  /**
   * A target may carry {@code {name}}, replaced by the image's name; needed when a definition has
   * several.
   */
  public static final String NAME_PLACEHOLDER = "{name}";

  /** What the bake is asked to do. */
  public record Request(
      List<Path> classpath,
      String definition,
      Set<String> images,
      List<String> targets,
      Path store,
      DefinitionContext context,
      Path outputDirectory,
      SupplyChain supplyChain) {
    public Request {
      supplyChain = supplyChain == null ? SupplyChain.NONE : supplyChain;
    }

    /** A request without SBOMs, provenance or signing. */
    public Request(
        List<Path> classpath,
        String definition,
        Set<String> images,
        List<String> targets,
        Path store,
        DefinitionContext context,
        Path outputDirectory) {
      this(classpath, definition, images, targets, store, context, outputDirectory, null);
    }
  }

  /**
   * The documents and signatures asked for: {@code sbom} is {@code true}, {@code false} (or {@code
   * null}) or formats ({@code spdx}, {@code cyclonedx}, comma-separated); {@code signingKey} an
   * unencrypted EC P-256 PEM key, {@code signingCertificates} its chain (or {@code null}).
   */
  public record SupplyChain(
      String sbom, boolean provenance, Path signingKey, Path signingCertificates) {
    /** Nothing: no SBOM, no provenance, no signature. */
    public static final SupplyChain NONE = new SupplyChain(null, false, null, null);
  }

  /** One baked image. */
  public record Baked(String name, BakeResult result, List<String> targets) {}

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private PluginBake() {}

  /** Runs the bake; {@code info} and {@code warn} receive progress lines. */
  public static List<Baked> run(Request req, Consumer<String> info, Consumer<String> warn)
      throws BakeException {
    List<String> targets = new ArrayList<>();
    for (String t : req.targets()) {
      if (t != null && !t.isBlank()) {
        targets.add(t.strip());
      }
    }
    for (String t : targets) {
      try {
        Target.parse(t.replace(NAME_PLACEHOLDER, "x"));
      } catch (IllegalArgumentException e) {
        throw new BakeException("invalid target '" + t + "': " + e.getMessage());
      }
    }
    // the key is read and the formats checked before the definitions are loaded or anything baked
    Consumer<Kiln.Builder> supplyChain = supplyChain(req.supplyChain());
    try (URLClassLoader loader =
        new URLClassLoader(urls(req.classpath()), PluginBake.class.getClassLoader())) {
      List<ImageDefinition> defs =
          req.definition() == null || req.definition().isBlank()
              ? ImageDefinitions.discover(loader)
              : List.of(ImageDefinitions.load(req.definition(), loader));
      Map<String, ImageBuild> builds;
      Thread th = Thread.currentThread();
      ClassLoader before = th.getContextClassLoader();
      th.setContextClassLoader(loader);
      try {
        builds = ImageDefinitions.define(defs, req.context(), req.images());
      } finally {
        th.setContextClassLoader(before);
      }
      if (builds.size() > 1) {
        for (String t : targets) {
          if (!t.contains(NAME_PLACEHOLDER)) {
            throw new BakeException(
                "target '"
                    + t
                    + "' would receive "
                    + builds.size()
                    + " images ("
                    + String.join(", ", builds.keySet())
                    + "): put "
                    + NAME_PLACEHOLDER
                    + " in it, or choose one image with -Dkiln.images=NAME");
          }
        }
      }
      return bake(req, builds, targets, supplyChain, info, warn);
    } catch (IOException e) {
      throw new BakeException("cannot read the project's class path: " + e.getMessage(), e);
    }
  }

  private static List<Baked> bake(
      Request req,
      Map<String, ImageBuild> builds,
      List<String> targets,
      Consumer<Kiln.Builder> supplyChain,
      Consumer<String> info,
      Consumer<String> warn)
      throws BakeException {
    Kiln kiln;
    try {
      Kiln.Builder b = Kiln.builder().watchFileSystem(false).listener(listener(info, warn));
      supplyChain.accept(b);
      if (req.store() != null) {
        b.store(req.store());
      }
      kiln = b.build();
    } catch (IOException | RuntimeException e) {
      Path where = req.store() != null ? req.store() : Kiln.defaultStorePath();
      throw new BakeException(
          "cannot open the Kiln store at "
              + where
              + ": "
              + oneLine(e)
              + " (set <store> or -Dkiln.store=DIR to a writable directory)",
          e);
    }
    try (kiln) {
      // equal builds share one bake: their targets are merged
      Map<ImageBuild, List<String>> bakes = new LinkedHashMap<>();
      Map<String, List<String>> targetsByName = new LinkedHashMap<>();
      for (Map.Entry<String, ImageBuild> e : builds.entrySet()) {
        List<String> ts =
            targets.stream().map(t -> t.replace(NAME_PLACEHOLDER, e.getKey())).toList();
        targetsByName.put(e.getKey(), ts);
        bakes.computeIfAbsent(e.getValue(), k -> new ArrayList<>()).addAll(ts);
      }
      List<BakeResult> results;
      try {
        results = kiln.bakeAll(bakes);
      } catch (InvalidTargetException e) {
        throw new BakeException(e.getMessage(), e);
      } catch (RuntimeException e) {
        throw new BakeException("bake failed: " + oneLine(e), e);
      }
      Map<ImageBuild, BakeResult> byBuild = new LinkedHashMap<>();
      int i = 0;
      for (ImageBuild build : bakes.keySet()) {
        byBuild.put(build, results.get(i++));
      }
      List<Baked> out = new ArrayList<>();
      for (Map.Entry<String, ImageBuild> e : builds.entrySet()) {
        BakeResult r = byBuild.get(e.getValue());
        Baked baked = new Baked(e.getKey(), r, targetsByName.get(e.getKey()));
        write(req.outputDirectory(), kiln.store(), baked);
        info.accept(
            "image '"
                + e.getKey()
                + "' "
                + r.digest()
                + " ("
                + r.layers().size()
                + " layers, "
                + (r.provisioned().isEmpty()
                    ? "nothing provisioned"
                    : "provisioned: " + String.join(", ", r.provisioned()))
                + ")");
        for (Attestation a : r.attestations()) {
          info.accept(
              "image '"
                  + e.getKey()
                  + "' "
                  + a.kind().name().toLowerCase(Locale.ROOT)
                  + " "
                  + a.digest()
                  + " ("
                  + blob(kiln, a)
                  + ")");
        }
        out.add(baked);
      }
      return out;
    } catch (IOException e) {
      throw new BakeException(
          "cannot write the bake's results to " + req.outputDirectory() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes NAME.digest, NAME.json (digest, targets, layers, what was provisioned) and a copy of the
   * image record.
   */
  private static void write(Path dir, Path store, Baked b) throws IOException {
    Files.createDirectories(dir);
    BakeResult r = b.result();
    Files.writeString(dir.resolve(b.name() + ".digest"), r.digest() + "\n", StandardCharsets.UTF_8);
    ObjectNode o = JSON.createObjectNode();
    o.put("name", b.name());
    o.put("digest", r.digest().toString());
    o.put("config", r.configDigest().toString());
    ObjectNode published = o.putObject("targets");
    for (String t : b.targets()) {
      PublishedImage p = r.published().get(t);
      published.put(t, p != null ? p.digest().toString() : r.digest().toString());
    }
    ArrayNode layers = o.putArray("layers");
    for (LayerRecord l : r.layers()) {
      ObjectNode n = layers.addObject();
      n.put("name", l.name());
      n.put("diffId", l.diffId().toString());
      n.put("digest", l.digest().toString());
      n.put("size", l.size());
    }
    ArrayNode prov = o.putArray("provisioned");
    r.provisioned().forEach(prov::add);
    if (!r.attestations().isEmpty()) {
      ArrayNode docs = o.putArray("attestations");
      for (Attestation a : r.attestations()) {
        ObjectNode n = docs.addObject();
        n.put("kind", a.kind().name().toLowerCase(Locale.ROOT));
        n.put("mediaType", a.mediaType());
        n.put("digest", a.digest().toString());
        n.put("file", store.resolve("blobs/sha256/" + a.digest().hex()).toString());
      }
    }
    if (r.record() != null) {
      o.put("record", r.record().toString());
      if (Files.isRegularFile(r.record())) {
        Files.copy(
            r.record(),
            dir.resolve(b.name() + ".record.json"),
            StandardCopyOption.REPLACE_EXISTING);
      }
    }
    Path tmp = dir.resolve(b.name() + ".json.tmp");
    JSON.writeValue(tmp.toFile(), o);
    Files.move(
        tmp,
        dir.resolve(b.name() + ".json"),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  private static BakeListener listener(Consumer<String> info, Consumer<String> warn) {
    return e -> {
      if (e instanceof BakeEvent.LayerProvisioned p) {
        info.accept(
            "layer "
                + p.layer()
                + " provisioned ("
                + p.kind()
                + ", "
                + p.size()
                + " bytes, "
                + p.took().toMillis()
                + " ms)");
      } else if (e instanceof BakeEvent.ImagePublished p) {
        info.accept((p.reused() ? "already in " : "published to ") + p.target());
      } else if (e instanceof BakeEvent.Warning w) {
        warn.accept(w.message());
      } else if (e instanceof BakeEvent.CacheCorrupted c) {
        warn.accept(
            "store blob " + c.digest() + " was damaged and is provisioned again: " + c.detail());
      }
    };
  }

  private static URL[] urls(List<Path> classpath) throws BakeException {
    Set<URL> out = new LinkedHashSet<>();
    for (Path p : classpath) {
      try {
        out.add(p.toUri().toURL());
      } catch (MalformedURLException e) {
        throw new BakeException(
            "class path entry " + p + " is not a valid location: " + e.getMessage(), e);
      }
    }
    return out.toArray(URL[]::new);
  }

  /**
   * Checks what {@code sc} asks for and reads its key; returns what turns it on in a {@link
   * Kiln.Builder}.
   */
  static Consumer<Kiln.Builder> supplyChain(SupplyChain sc) throws BakeException {
    Set<Attestation.Kind> formats = sbomFormats(sc.sbom());
    if (sc.signingCertificates() != null && sc.signingKey() == null) {
      throw new BakeException(
          "<signingCertificates> "
              + sc.signingCertificates()
              + " needs <signingKey> (-Dkiln.signingKey=FILE)");
    }
    SigningKey key =
        sc.signingKey() == null ? null : signingKey(sc.signingKey(), sc.signingCertificates());
    if ((!formats.isEmpty() || sc.provenance())
        && ServiceLoader.load(Attestor.class, Kiln.class.getClassLoader()).findFirst().isEmpty()) {
      throw new BakeException(
          "<sbom> and <provenance> need the kiln-sbom module (dev.kiln:kiln-sbom), which is not on"
              + " the plugin's class path: add it to the plugin's <dependencies>");
    }
    boolean provenance = sc.provenance();
    return b -> {
      if (!formats.isEmpty()) {
        b.sbom(formats.toArray(Attestation.Kind[]::new));
      }
      if (provenance) {
        b.provenance(true);
      }
      if (key != null) {
        b.signWith(key);
      }
    };
  }

  /** The formats of {@code <sbom>}: true (both), false or empty (none), spdx and/or cyclonedx. */
  static Set<Attestation.Kind> sbomFormats(String value) throws BakeException {
    Set<Attestation.Kind> out = new LinkedHashSet<>();
    if (value == null || value.isBlank() || value.strip().equalsIgnoreCase("false")) {
      return out;
    }
    if (value.strip().equalsIgnoreCase("true")) {
      out.add(Attestation.Kind.SPDX);
      out.add(Attestation.Kind.CYCLONEDX);
      return out;
    }
    for (String f : value.split(",", -1)) {
      switch (f.strip().toLowerCase(Locale.ROOT)) {
        case "spdx" -> out.add(Attestation.Kind.SPDX);
        case "cyclonedx" -> out.add(Attestation.Kind.CYCLONEDX);
        default ->
            throw new BakeException(
                "<sbom> '"
                    + value
                    + "': unknown SBOM format '"
                    + f.strip()
                    + "' (true, false, spdx, cyclonedx, or spdx,cyclonedx)");
      }
    }
    return out;
  }

  private static SigningKey signingKey(Path file, Path certs) throws BakeException {
    for (Path f : certs == null ? List.of(file) : List.of(file, certs)) {
      if (!Files.isRegularFile(f)) {
        throw new BakeException(
            (f == file ? "<signingKey> " : "<signingCertificates> ")
                + f
                + ": "
                + (Files.exists(f) ? "not a regular file" : "no such file"));
      }
    }
    SigningKey key;
    try {
      key = SigningKey.fromPem(file, certs);
    } catch (IOException | RuntimeException e) {
      throw new BakeException(
          "<signingKey> " + file + ": " + oneLine(e) + " (an EC P-256 private key is needed)", e);
    }
    return key;
  }

  private static Path blob(Kiln kiln, Attestation a) {
    return kiln.store().resolve("blobs/sha256/" + a.digest().hex());
  }

  /** The message of {@code e} on one line. */
  public static String oneLine(Throwable e) {
    String m = e.getMessage();
    String s = m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    return s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
  }
}
