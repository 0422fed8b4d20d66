package dev.kiln.sbom;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import java.time.Instant;
import java.util.List;

/**
 * The SPDX 2.3 JSON document of an image: the image as a package ({@code SPDXRef-Image}, purpose
 * CONTAINER, its manifest digest as checksum) that CONTAINS every OS package, jar (both packages)
 * and file; each annotated with the layer that brought it. Written with Jackson in a fixed order,
 * so the same contents give the same bytes; the namespace is derived from the image digest and the
 * only time is the build's.
 */
final class SpdxWriter {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String NOASSERTION = "NOASSERTION";

  private SpdxWriter() {}

  static byte[] write(Digest image, List<Component> components, Instant buildTime) {
    String tool = "Tool: kiln-" + KilnVersion.VERSION;
    String created = buildTime.toString();
    ObjectNode doc = JSON.createObjectNode();
    doc.put("spdxVersion", "SPDX-2.3");
    doc.put("dataLicense", "CC0-1.0");
    doc.put("SPDXID", "SPDXRef-DOCUMENT");
    doc.put("name", "kiln-image-" + image.hex());
    doc.put("documentNamespace", "https://spdx.org/spdxdocs/kiln-image-sha256-" + image.hex());
    ObjectNode ci = doc.putObject("creationInfo");
    ci.putArray("creators").add(tool);
    ci.put("created", created);
    ArrayNode packages = doc.putArray("packages");
    ArrayNode files = doc.putArray("files");
    ArrayNode rels = doc.putArray("relationships");

    ObjectNode img = packages.addObject();
    img.put("name", "kiln-image");
    img.put("SPDXID", "SPDXRef-Image");
    img.put("versionInfo", image.toString());
    img.put("downloadLocation", NOASSERTION);
    List<String> fileSha1s =
        components.stream()
            .filter(c -> c.type() == Component.Type.FILE)
            .map(Component::sha1)
            .sorted()
            .toList();
    img.put("filesAnalyzed", !fileSha1s.isEmpty());
    if (!fileSha1s.isEmpty()) {
      // the files it CONTAINS are analyzed: SPDX then asks for their verification code
      img.putObject("packageVerificationCode")
          .put("packageVerificationCodeValue", verificationCode(fileSha1s));
    }
    img.putArray("checksums")
        .addObject()
        .put("algorithm", "SHA256")
        .put("checksumValue", image.hex());
    img.put("primaryPackagePurpose", "CONTAINER");
    rel(rels, "SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image");

    int n = 0;
    for (Component c : components) {
      n++;
      if (c.type() == Component.Type.FILE) {
        String id = "SPDXRef-File-" + n;
        ObjectNode f = files.addObject();
        f.put("fileName", "." + c.path());
        f.put("SPDXID", id);
        ArrayNode sums = f.putArray("checksums");
        sums.addObject().put("algorithm", "SHA1").put("checksumValue", c.sha1());
        sums.addObject().put("algorithm", "SHA256").put("checksumValue", c.sha256());
        f.put("licenseConcluded", NOASSERTION);
        f.put("copyrightText", NOASSERTION);
        annotate(f, c, tool, created);
        rel(rels, "SPDXRef-Image", "CONTAINS", id);
        continue;
      }
      String id = "SPDXRef-Package-" + n;
      ObjectNode p = packages.addObject();
      p.put("name", c.name());
      p.put("SPDXID", id);
      if (!c.version().isEmpty()) {
        p.put("versionInfo", c.version());
      }
      if (!c.path().isEmpty()) {
        p.put("packageFileName", c.path());
      }
      p.put("downloadLocation", NOASSERTION);
      p.put("filesAnalyzed", false);
      if (!c.sha256().isEmpty()) {
        p.putArray("checksums")
            .addObject()
            .put("algorithm", "SHA256")
            .put("checksumValue", c.sha256());
      }
      p.put("licenseConcluded", NOASSERTION);
      p.put("licenseDeclared", NOASSERTION);
      p.put("copyrightText", NOASSERTION);
      if (!c.purl().isEmpty()) {
        p.putArray("externalRefs")
            .addObject()
            .put("referenceCategory", "PACKAGE-MANAGER")
            .put("referenceType", "purl")
            .put("referenceLocator", c.purl());
      }
      if (c.type() == Component.Type.JAR) {
        p.put("primaryPackagePurpose", "LIBRARY");
      }
      annotate(p, c, tool, created);
      rel(rels, "SPDXRef-Image", "CONTAINS", id);
    }
    try {
      return JSON.writeValueAsBytes(doc);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** SPDX's package verification code: the SHA-1 of the files' sorted SHA-1s, concatenated. */
  private static String verificationCode(List<String> sortedSha1s) {
    try {
      java.security.MessageDigest sha1 = java.security.MessageDigest.getInstance("SHA-1");
      sortedSha1s.forEach(h -> sha1.update(h.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
      return java.util.HexFormat.of().formatHex(sha1.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Says which layer brought the element, as an SPDX annotation. */
  private static void annotate(ObjectNode element, Component c, String tool, String created) {
    element
        .putArray("annotations")
        .addObject()
        .put("annotationDate", created)
        .put("annotationType", "OTHER")
        .put("annotator", tool)
        .put("comment", "kiln:layer=" + c.layer() + " kiln:layer.diffID=" + c.diffId());
  }

  private static void rel(ArrayNode rels, String from, String type, String to) {
    rels.addObject()
        .put("spdxElementId", from)
        .put("relationshipType", type)
        .put("relatedSpdxElement", to);
  }
}
