package dev.kiln.sbom;

import com.github.packageurl.MalformedPackageURLException;
import com.github.packageurl.PackageURL;
import java.util.Map;
import java.util.TreeMap;

/** Package URLs (purl), written by the purl library so that names and versions are escaped. */
final class Purls {
  private Purls() {}

  /** The canonical purl, or an empty string when the parts make none. */
  static String of(
      String type, String namespace, String name, String version, Map<String, String> qualifiers) {
    try {
      return new PackageURL(
              type,
              namespace.isEmpty() ? null : namespace,
              name,
              version.isEmpty() ? null : version,
              qualifiers.isEmpty() ? null : new TreeMap<>(qualifiers),
              null)
          .canonicalize();
    } catch (MalformedPackageURLException | RuntimeException e) {
      return "";
    }
  }
}
