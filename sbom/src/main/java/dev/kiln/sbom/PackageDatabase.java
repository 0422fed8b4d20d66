package dev.kiln.sbom;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the package databases an image's root file system keeps: dpkg's {@code var/lib/dpkg/status}
 * (and the one-file-per-package {@code status.d/} of distroless images) and apk's {@code
 * lib/apk/db/installed}. Both are stanzas of fields separated by blank lines.
 *
 * <p>Best effort, and never a guess: a stanza without a name or a version is left out, a file that
 * does not end with a newline (cut off) has its last stanza left out, since the cut may be inside
 * its version; each is reported as a problem.
 */
final class PackageDatabase {
  private PackageDatabase() {}

  /** An installed package. */
  record Pkg(String manager, String name, String version, String arch, String source) {
    /** Identifies the package within its database: the name and, for multi-arch dpkg, the arch. */
    String key() {
      return manager + ":" + name + ":" + arch;
    }
  }

  /** The packages of a database file, and what could not be read. */
  record Parsed(List<Pkg> packages, List<String> problems) {}

  /** A dpkg status file (or a {@code status.d/} file): installed packages only. */
  static Parsed dpkg(String path, byte[] content) {
    List<Pkg> out = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    int skipped = 0;
    List<Map<String, String>> stanzas = stanzas(path, content, ':', problems);
    for (Map<String, String> s : stanzas) {
      String name = s.getOrDefault("Package", "");
      String version = s.getOrDefault("Version", "");
      String status = s.getOrDefault("Status", "install ok installed");
      if (name.isEmpty() || version.isEmpty() || !valid(name) || !valid(version)) {
        skipped++;
        continue;
      }
      String[] st = status.trim().split("\\s+");
      if (st.length != 3 || !st[2].equals("installed")) {
        continue; // removed, config-files only, half-installed: not in the image as a package
      }
      String source = s.getOrDefault("Source", "").split("\\s+", 2)[0];
      out.add(new Pkg("deb", name, version, s.getOrDefault("Architecture", ""), source));
    }
    if (skipped > 0) {
      problems.add(
          path
              + ": "
              + skipped
              + " stanza(s) without a readable Package and Version were left out");
    }
    return new Parsed(out, problems);
  }

  /** apk's installed database. */
  static Parsed apk(String path, byte[] content) {
    List<Pkg> out = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    int skipped = 0;
    for (Map<String, String> s : stanzas(path, content, ':', problems)) {
      String name = s.getOrDefault("P", "");
      String version = s.getOrDefault("V", "");
      if (name.isEmpty() || version.isEmpty() || !valid(name) || !valid(version)) {
        skipped++;
        continue;
      }
      out.add(new Pkg("apk", name, version, s.getOrDefault("A", ""), s.getOrDefault("o", "")));
    }
    if (skipped > 0) {
      problems.add(path + ": " + skipped + " stanza(s) without a readable P: and V: were left out");
    }
    return new Parsed(out, problems);
  }

  /** A name or version as the package managers write them: printable, no spaces. */
  private static boolean valid(String s) {
    if (s.length() > 256) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= ' ' || c == 0x7f || c == '\uFFFD') {
        return false;
      }
    }
    return true;
  }

  /**
   * The stanzas of an RFC 822-like file: fields {@code Name<sep> value} (apk: {@code N:value}),
   * continuation lines starting with a blank, stanzas separated by blank lines. A line that is
   * neither makes its stanza unreadable (left out). Bytes that are not UTF-8 make the whole file
   * suspect: it is read with replacement characters, and values holding one are refused.
   */
  private static List<Map<String, String>> stanzas(
      String path, byte[] content, char sep, List<String> problems) {
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(content))
              .toString();
    } catch (CharacterCodingException e) {
      problems.add(path + " is not UTF-8 text: only its readable stanzas are listed");
      text = new String(content, StandardCharsets.UTF_8);
    }
    List<Map<String, String>> out = new ArrayList<>();
    boolean truncated = !text.isEmpty() && !text.endsWith("\n");
    Map<String, String> cur = new LinkedHashMap<>();
    boolean broken = false;
    String last = null;
    int brokenCount = 0;
    for (String line : text.split("\n", -1)) {
      if (line.isEmpty()) {
        if (!cur.isEmpty() || broken) {
          if (broken) {
            brokenCount++;
          } else {
            out.add(cur);
          }
        }
        cur = new LinkedHashMap<>();
        broken = false;
        last = null;
        continue;
      }
      if (line.charAt(0) == ' ' || line.charAt(0) == '\t') {
        if (last == null) {
          broken = true;
        }
        continue; // continuation of a long value (descriptions, conffiles): not needed
      }
      int i = line.indexOf(sep);
      if (i <= 0 || line.substring(0, i).chars().anyMatch(c -> c <= ' ' || c > '~')) {
        broken = true;
        continue;
      }
      last = line.substring(0, i);
      String value = line.substring(i + 1).strip();
      if (cur.putIfAbsent(last, value) != null) {
        broken = true; // a field twice: two stanzas run together
      }
    }
    if (!cur.isEmpty() || broken) {
      if (truncated) {
        problems.add(
            path + " ends in the middle of a line (cut off?): its last stanza was left out");
      } else if (broken) {
        brokenCount++;
      } else {
        out.add(cur);
      }
    }
    if (brokenCount > 0) {
      problems.add(path + ": " + brokenCount + " unreadable stanza(s) were left out");
    }
    return out;
  }
}
