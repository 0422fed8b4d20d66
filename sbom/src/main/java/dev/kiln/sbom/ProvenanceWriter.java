package dev.kiln.sbom;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Attestation;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.ImageView;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The in-toto Statement v1 with a SLSA Provenance v1 predicate of an image. Subjects: the image
 * manifest, and what each target holds of it (annotated with the target's details: an AMI id, a
 * template, a file). The build definition: the base, and each layer's kind, name and cache key
 * (external parameters); the layers of the base, every named input and the package versions the
 * packages layers resolved (resolved dependencies). The SBOMs of the same bake are byproducts.
 * Written with Jackson in a fixed order and without any time, so the same bake gives the same
 * bytes.
 */
final class ProvenanceWriter {
  static final String STATEMENT = "https://in-toto.io/Statement/v1";
  static final String SLSA = "https://slsa.dev/provenance/v1";
  static final String BUILD_TYPE = "https://kiln.dev/ImageBuild/v1";
  static final String BUILDER = "https://kiln.dev/kiln";

  private static final ObjectMapper JSON = new ObjectMapper();

  private ProvenanceWriter() {}

  static byte[] write(
      ImageView image,
      String base,
      Map<String, PublishedImage> published,
      long sourceDateEpoch,
      List<Attestation> byproducts) {
    ObjectNode st = JSON.createObjectNode();
    st.put("_type", STATEMENT);
    ArrayNode subject = st.putArray("subject");
    ObjectNode img = subject.addObject();
    img.put("name", "image");
    digest(img, image.digest());
    img.putObject("annotations").put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    for (Map.Entry<String, PublishedImage> e : new TreeMap<>(published).entrySet()) {
      ObjectNode s = subject.addObject();
      s.put("name", e.getKey());
      digest(s, e.getValue().digest());
      if (!e.getValue().details().isEmpty()) {
        ObjectNode a = s.putObject("annotations");
        e.getValue().details().forEach(a::put);
      }
    }
    st.put("predicateType", SLSA);
    ObjectNode pred = st.putObject("predicate");
    ObjectNode def = pred.putObject("buildDefinition");
    def.put("buildType", BUILD_TYPE);
    ObjectNode ext = def.putObject("externalParameters");
    ext.put("base", base);
    ArrayNode layers = ext.putArray("layers");
    for (LayerRecord l : image.layers()) {
      layers.addObject().put("name", l.name()).put("kind", l.kind()).put("key", l.key().toString());
    }
    ext.put("config", image.configDigest().toString());
    def.putObject("internalParameters").put("sourceDateEpoch", sourceDateEpoch);
    ArrayNode deps = def.putArray("resolvedDependencies");
    int at = base.indexOf("@sha256:");
    if (base.startsWith("image ") && at > 0) {
      ObjectNode b = deps.addObject();
      b.put("uri", "docker://" + base.substring("image ".length(), at));
      digest(b, Digest.parse(base.substring(at + 1)));
      b.put("name", "base");
    }
    for (LayerRecord l : image.layers()) {
      if (l.kind().equals("oci-base")) {
        ObjectNode d = deps.addObject();
        d.put("name", "base layer " + l.name());
        digest(d, l.digest());
        d.put("mediaType", l.mediaType());
        continue;
      }
      for (Fingerprint.Input in : l.inputs()) {
        ObjectNode d = deps.addObject();
        d.put("name", l.name() + ": " + in.name());
        digest(d, in.digest());
      }
      String manager = l.metadata().getOrDefault("package-manager", "");
      String type =
          switch (manager) {
            case "apt" -> "deb";
            case "apk" -> "apk";
            case "dnf", "yum", "microdnf" -> "rpm";
            default -> "generic";
          };
      for (Map.Entry<String, String> m : l.metadata().entrySet()) {
        if (m.getKey().startsWith("package.")) {
          String name = m.getKey().substring("package.".length());
          String purl = Purls.of(type, "", name, m.getValue(), Map.of());
          ObjectNode d = deps.addObject();
          d.put("uri", purl.isEmpty() ? "kiln:package:" + name + "@" + m.getValue() : purl);
          d.put("name", l.name() + ": package " + name);
          d.putObject("annotations").put("version", m.getValue()).put("layer", l.name());
        }
      }
    }
    ObjectNode run = pred.putObject("runDetails");
    ObjectNode builder = run.putObject("builder");
    builder.put("id", BUILDER + "@" + KilnVersion.VERSION);
    builder.putObject("version").put("kiln", KilnVersion.VERSION);
    run.putObject("metadata").put("invocationId", "kiln-image-" + image.digest().hex());
    if (!byproducts.isEmpty()) {
      ArrayNode by = run.putArray("byproducts");
      for (Attestation a : byproducts) {
        ObjectNode o = by.addObject();
        o.put("name", a.kind().name().toLowerCase(java.util.Locale.ROOT) + " sbom");
        digest(o, a.digest());
        o.put("mediaType", a.mediaType());
      }
    }
    try {
      return JSON.writeValueAsBytes(st);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void digest(ObjectNode o, Digest d) {
    o.putObject("digest").put("sha256", d.hex());
  }
}
