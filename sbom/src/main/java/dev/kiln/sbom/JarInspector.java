package dev.kiln.sbom;

import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * What a jar (or war, ear) in an image is: its SHA-256 and, when it says so in {@code
 * META-INF/maven/GROUP/ARTIFACT/pom.properties}, its Maven coordinates. The jar is read from a temp
 * copy ({@link LayerFindings} makes it while it hashes it), so that only its central directory and
 * the pom.properties are read (a stream would inflate every entry to get past it).
 */
final class JarInspector {
  /** The most of a pom.properties that is read: real ones are a few hundred bytes. */
  private static final int MAX_PROPERTIES = 64 * 1024;

  private JarInspector() {}

  /** A jar's SHA-256 and Maven coordinates (empty strings when it names none). */
  record Jar(String sha256, String groupId, String artifactId, String version) {
    boolean hasCoordinates() {
      return !groupId.isEmpty();
    }
  }

  static boolean isJar(String path) {
    String p = path.toLowerCase(java.util.Locale.ROOT);
    return p.endsWith(".jar") || p.endsWith(".war") || p.endsWith(".ear");
  }

  /**
   * The Maven coordinates of the jar copied to {@code jar} whose SHA-256 is {@code sha256}. A jar
   * that is not a zip archive, or whose pom.properties lacks a coordinate, is reported to {@code
   * warn} and identified by its SHA-256 only.
   */
  static Jar coordinates(Path jar, String path, String sha256, Consumer<String> warn) {
    List<ZipEntry> poms = new ArrayList<>();
    try (ZipFile z = new ZipFile(jar.toFile())) {
      for (ZipEntry e : Collections.list(z.entries())) {
        String[] seg = e.getName().split("/");
        if (seg.length == 5
            && seg[0].equals("META-INF")
            && seg[1].equals("maven")
            && seg[4].equals("pom.properties")
            && !e.isDirectory()) {
          poms.add(e);
        }
      }
      if (poms.isEmpty()) {
        return new Jar(sha256, "", "", "");
      }
      poms.sort(java.util.Comparator.comparing(ZipEntry::getName));
      ZipEntry chosen = choose(poms, path);
      if (chosen == null) {
        return new Jar(sha256, "", "", ""); // a shaded jar of several artifacts: none is the jar
      }
      Properties p = new Properties();
      try (InputStream pin = z.getInputStream(chosen)) {
        byte[] b = pin.readNBytes(MAX_PROPERTIES + 1);
        if (b.length > MAX_PROPERTIES) {
          warn.accept(
              "jar " + path + ": " + chosen.getName() + " is over 64 KiB: listed by SHA-256 only");
          return new Jar(sha256, "", "", "");
        }
        p.load(new StringReader(new String(b, StandardCharsets.ISO_8859_1)));
      }
      String g = p.getProperty("groupId", "").strip();
      String a = p.getProperty("artifactId", "").strip();
      String v = p.getProperty("version", "").strip();
      if (g.isEmpty() || a.isEmpty() || v.isEmpty()) {
        List<String> missing = new ArrayList<>();
        for (String[] f : new String[][] {{"groupId", g}, {"artifactId", a}, {"version", v}}) {
          if (f[1].isEmpty()) {
            missing.add(f[0]);
          }
        }
        warn.accept(
            "jar "
                + path
                + ": "
                + chosen.getName()
                + " has no "
                + String.join(", ", missing)
                + ": listed by name and SHA-256 only");
        return new Jar(sha256, "", "", "");
      }
      return new Jar(sha256, g, a, v);
    } catch (ZipException e) {
      warn.accept(
          "jar " + path + " is not a zip archive (" + e.getMessage() + "): listed by SHA-256 only");
      return new Jar(sha256, "", "", "");
    } catch (IOException | IllegalArgumentException e) {
      warn.accept("jar " + path + " could not be read (" + e + "): listed by SHA-256 only");
      return new Jar(sha256, "", "", "");
    }
  }

  /**
   * The pom.properties that describes the jar itself: the only one, else the one whose artifactId
   * starts the jar's file name; null when that is not clear.
   */
  private static ZipEntry choose(List<ZipEntry> poms, String path) {
    if (poms.size() == 1) {
      return poms.get(0);
    }
    String file = path.substring(path.lastIndexOf('/') + 1);
    ZipEntry found = null;
    for (ZipEntry e : poms) {
      String artifact = e.getName().split("/")[3];
      if (file.startsWith(artifact + "-") || file.startsWith(artifact + ".")) {
        if (found != null) {
          return null;
        }
        found = e;
      }
    }
    return found;
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
