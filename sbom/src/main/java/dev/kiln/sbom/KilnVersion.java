package dev.kiln.sbom;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The version of Kiln that writes the documents, as the build of this module stamped it. */
final class KilnVersion {
  static final String VERSION = load();

  private KilnVersion() {}

  private static String load() {
    try (InputStream in = KilnVersion.class.getResourceAsStream("kiln-version.properties")) {
      Properties p = new Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
