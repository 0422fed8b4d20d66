package dev.kiln.sbom;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.StreamSupport;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/** Root file systems, jars and package databases for the SBOM tests, and readers of the result. */
public final class SbomFixtures {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The time of every tar entry, so that the same files make the same tarball. */
  private static final java.util.Date FIXED = new java.util.Date(1_700_000_000_000L);

  private SbomFixtures() {}

  /** A dpkg status stanza of an installed package. */
  public static String dpkg(String name, String version, String arch) {
    return "Package: "
        + name
        + "\nStatus: install ok installed\nPriority: optional\nArchitecture: "
        + arch
        + "\nVersion: "
        + version
        + "\nDescription: "
        + name
        + " for the tests\n multi-line description\n\n";
  }

  /** A root file system tarball holding these files (parents as directories). */
  public static Path rootfs(Path tar, Map<String, byte[]> files) throws IOException {
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(Files.newOutputStream(tar))) {
      t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      List<String> dirs = new ArrayList<>();
      for (String p : new java.util.TreeSet<>(files.keySet())) {
        String[] seg = p.split("/");
        StringBuilder d = new StringBuilder();
        for (int i = 0; i < seg.length - 1; i++) {
          d.append(seg[i]).append('/');
          if (!dirs.contains(d.toString())) {
            dirs.add(d.toString());
            TarArchiveEntry e = new TarArchiveEntry(d.toString());
            e.setMode(040755);
            e.setModTime(FIXED);
            t.putArchiveEntry(e);
            t.closeArchiveEntry();
          }
        }
        TarArchiveEntry e = new TarArchiveEntry(p);
        e.setMode(0100644);
        e.setModTime(FIXED);
        e.setSize(files.get(p).length);
        t.putArchiveEntry(e);
        t.write(files.get(p));
        t.closeArchiveEntry();
      }
    }
    return tar;
  }

  /**
   * A jar with a class-like file and, when {@code pomProperties} is not null, that pom.properties.
   */
  public static Path jar(Path jar, String group, String artifact, String pomProperties)
      throws IOException {
    try (OutputStream os = Files.newOutputStream(jar);
        JarOutputStream j = new JarOutputStream(os)) {
      JarEntry cls = new JarEntry("com/example/App.class");
      cls.setTime(FIXED.getTime());
      j.putNextEntry(cls);
      j.write(new byte[] {(byte) 0xca, (byte) 0xfe, (byte) 0xba, (byte) 0xbe, 0, 0, 0, 61});
      j.closeEntry();
      if (pomProperties != null) {
        JarEntry pom = new JarEntry("META-INF/maven/" + group + "/" + artifact + "/pom.properties");
        pom.setTime(FIXED.getTime());
        j.putNextEntry(pom);
        j.write(pomProperties.getBytes(StandardCharsets.ISO_8859_1));
        j.closeEntry();
      }
    }
    return jar;
  }

  public static JsonNode json(BakeResult r, Attestation.Kind kind) throws IOException {
    return JSON.readTree(r.attestation(kind).orElseThrow().content());
  }

  /** The SPDX package named {@code name}. */
  public static JsonNode spdxPackage(JsonNode spdx, String name) {
    return StreamSupport.stream(spdx.path("packages").spliterator(), false)
        .filter(p -> p.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no SPDX package " + name + " in " + spdx));
  }

  /** Whether the SPDX document has a package named {@code name}. */
  public static boolean hasSpdxPackage(JsonNode spdx, String name) {
    return StreamSupport.stream(spdx.path("packages").spliterator(), false)
        .anyMatch(p -> p.path("name").asText().equals(name));
  }

  /** The CycloneDX component named {@code name}. */
  public static JsonNode cdxComponent(JsonNode bom, String name) {
    return StreamSupport.stream(bom.path("components").spliterator(), false)
        .filter(p -> p.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no CycloneDX component " + name));
  }

  /** A CycloneDX component's property. */
  public static String property(JsonNode component, String name) {
    for (JsonNode p : component.path("properties")) {
      if (p.path("name").asText().equals(name)) {
        return p.path("value").asText();
      }
    }
    return null;
  }

  /** The SPDX annotation comment of an element. */
  public static String annotation(JsonNode element) {
    return element.path("annotations").path(0).path("comment").asText();
  }
}
