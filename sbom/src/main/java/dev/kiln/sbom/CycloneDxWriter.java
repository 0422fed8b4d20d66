package dev.kiln.sbom;

import dev.kiln.Digest;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.UUID;
import org.cyclonedx.Version;
import org.cyclonedx.exception.GeneratorException;
import org.cyclonedx.generators.BomGeneratorFactory;
import org.cyclonedx.generators.json.BomJsonGenerator;
import org.cyclonedx.model.Bom;
import org.cyclonedx.model.Component;
import org.cyclonedx.model.Hash;
import org.cyclonedx.model.Metadata;
import org.cyclonedx.model.Property;
import org.cyclonedx.model.metadata.ToolInformation;

/**
 * The CycloneDX 1.6 JSON document of an image, written with the CycloneDX library: the image as the
 * metadata component (type container, its manifest digest as hash), then every OS package, jar and
 * file, each with properties {@code kiln:layer} and {@code kiln:layer.diffID}. The serial number is
 * derived from the image digest and the timestamp is the build's, so the same contents give the
 * same bytes.
 */
final class CycloneDxWriter {
  /** The CycloneDX version written. */
  static final Version VERSION = Version.VERSION_16;

  /**
   * The document every call fills in, and its generator. A generator builds a Jackson mapper whose
   * serializers for the whole CycloneDX model take 50 to 100 ms to set up, more than the rest of an
   * image's documents together; one generator, kept with the document it was made for, builds them
   * once. Calls are serialised on {@link #SHARED}.
   */
  private static final Bom SHARED = new Bom();

  private static final BomJsonGenerator GENERATOR = BomGeneratorFactory.createJson(VERSION, SHARED);

  private CycloneDxWriter() {}

  static byte[] write(Digest image, List<dev.kiln.sbom.Component> components, Instant buildTime) {
    Metadata md = new Metadata();
    md.setTimestamp(Date.from(buildTime));
    Component kiln = new Component();
    kiln.setType(Component.Type.APPLICATION);
    kiln.setName("kiln");
    kiln.setVersion(KilnVersion.VERSION);
    ToolInformation tools = new ToolInformation();
    tools.setComponents(List.of(kiln));
    md.setToolChoice(tools);
    Component img = new Component();
    img.setType(Component.Type.CONTAINER);
    img.setBomRef("image");
    img.setName("kiln-image");
    img.setVersion(image.toString());
    img.setHashes(List.of(new Hash(Hash.Algorithm.SHA_256, image.hex())));
    md.setComponent(img);
    List<Component> out = new ArrayList<>();
    int n = 0;
    for (dev.kiln.sbom.Component c : components) {
      n++;
      Component x = new Component();
      x.setBomRef(
          switch (c.type()) {
                case OS_PACKAGE -> "package-";
                case JAR -> "jar-";
                case FILE -> "file-";
              }
              + n);
      x.setType(
          c.type() == dev.kiln.sbom.Component.Type.FILE
              ? Component.Type.FILE
              : Component.Type.LIBRARY);
      if (!c.group().isEmpty()) {
        x.setGroup(c.group());
      }
      x.setName(c.name());
      if (!c.version().isEmpty()) {
        x.setVersion(c.version());
      }
      List<Hash> hashes = new ArrayList<>();
      if (!c.sha1().isEmpty()) {
        hashes.add(new Hash(Hash.Algorithm.SHA1, c.sha1()));
      }
      if (!c.sha256().isEmpty()) {
        hashes.add(new Hash(Hash.Algorithm.SHA_256, c.sha256()));
      }
      if (!hashes.isEmpty()) {
        x.setHashes(hashes);
      }
      if (!c.purl().isEmpty()) {
        x.setPurl(c.purl());
      }
      List<Property> props = new ArrayList<>();
      props.add(property("kiln:layer", c.layer()));
      props.add(property("kiln:layer.diffID", c.diffId().toString()));
      if (!c.path().isEmpty()) {
        props.add(property("kiln:path", c.path()));
      }
      if (!c.manager().isEmpty()) {
        props.add(property("kiln:package-manager", c.manager()));
      }
      if (!c.arch().isEmpty()) {
        props.add(property("kiln:arch", c.arch()));
      }
      x.setProperties(props);
      out.add(x);
    }
    synchronized (SHARED) {
      SHARED.setSerialNumber("urn:uuid:" + serial(image));
      SHARED.setVersion(1);
      SHARED.setMetadata(md);
      SHARED.setComponents(out);
      try {
        return GENERATOR.toJsonString(false).getBytes(StandardCharsets.UTF_8);
      } catch (GeneratorException e) {
        throw new IllegalStateException("could not write the CycloneDX document: " + e, e);
      } finally {
        SHARED.setMetadata(null);
        SHARED.setComponents(null);
      }
    }
  }

  /**
   * A UUID in the name-based (version 5) form, from the SHA-256 of the image digest: the same
   * image, the same serial number.
   */
  static UUID serial(Digest image) {
    byte[] b =
        java.util.Arrays.copyOf(
            JarInspector.sha256()
                .digest(("kiln.cyclonedx.v1\n" + image).getBytes(StandardCharsets.UTF_8)),
            16);
    b[6] = (byte) ((b[6] & 0x0f) | 0x50);
    b[8] = (byte) ((b[8] & 0x3f) | 0x80);
    java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b);
    return new UUID(bb.getLong(), bb.getLong());
  }

  private static Property property(String name, String value) {
    Property p = new Property();
    p.setName(name);
    p.setValue(value);
    return p;
  }
}
