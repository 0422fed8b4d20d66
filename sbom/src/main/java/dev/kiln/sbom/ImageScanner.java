package dev.kiln.sbom;

import dev.kiln.LayerRecord;
import dev.kiln.spi.AttestContext;
import dev.kiln.spi.LayerNotes;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Lays an image's layers over each other, lowest first, as the final root file system sees them
 * (the last writer of a path wins, whiteouts delete), each layer's {@link LayerFindings} taken
 * while the bake wrote it or read back from the store, and finds what the SBOMs list: the packages
 * of its package database, its jars, the files its files layers added. Each is attributed to the
 * layer that brought it: a file or jar to the layer that last wrote it, a package to the lowest
 * layer from which on the database holds it at its final version.
 *
 * <p>Never fails on what the image holds; what it cannot read is reported to {@link
 * AttestContext#warn} and left out. Not thread-safe; one per image.
 */
final class ImageScanner {
  static final String DPKG_STATUS = "var/lib/dpkg/status";
  static final String DPKG_STATUS_D = "var/lib/dpkg/status.d/";
  static final String APK_INSTALLED = "lib/apk/db/installed";
  static final List<String> OS_RELEASE = List.of("etc/os-release", "usr/lib/os-release");
  static final List<String> RPM_DATABASES =
      List.of(
          "var/lib/rpm/rpmdb.sqlite",
          "var/lib/rpm/Packages",
          "var/lib/rpm/Packages.db",
          "usr/lib/sysimage/rpm/rpmdb.sqlite",
          "usr/lib/sysimage/rpm/Packages.db");

  /** What the file system holds at a path, of what is tracked; attributed to a layer. */
  private sealed interface Tracked {
    int layer();
  }

  private record DbFile(int layer, byte[] content) implements Tracked {}

  private record RpmDb(int layer) implements Tracked {}

  private record JarFile(int layer, JarInspector.Jar jar) implements Tracked {}

  private record PlainFile(int layer, String sha256, String sha1) implements Tracked {}

  /** A package and the layer it is attributed to. */
  private record Attributed(PackageDatabase.Pkg pkg, int layer) {}

  /** What an image holds. */
  record Contents(List<Component> components, Map<String, String> osRelease) {}

  private final AttestContext ctx;
  private final List<LayerRecord> layers;
  private final TreeMap<String, Tracked> tracked = new TreeMap<>();
  private Map<String, Attributed> packages = new TreeMap<>();
  private List<String> dbProblems = List.of();
  private int dbGeneration;
  private int files;
  private int jars;
  private long filesLeftOut;
  private long jarsLeftOut;

  /** How many files of files layers, and how many jars, an SBOM lists at most. */
  private final int limit;

  ImageScanner(AttestContext ctx, int limit) {
    this.ctx = ctx;
    this.limit = limit;
    this.layers = ctx.image().layers();
  }

  Contents scan() throws IOException {
    for (int i = 0; i < layers.size(); i++) {
      int before = dbGeneration;
      readLayer(i);
      if (dbGeneration != before) {
        attributePackages(i);
      }
    }
    dbProblems.forEach(ctx::warn);
    if (filesLeftOut > 0) {
      ctx.warn(
          "the files layers add more than "
              + limit
              + " files: the SBOMs list "
              + limit
              + " of them and leave "
              + filesLeftOut
              + " out");
    }
    if (jarsLeftOut > 0) {
      ctx.warn(
          "the image holds more than "
              + limit
              + " jars: the SBOMs list "
              + limit
              + " of them and leave "
              + jarsLeftOut
              + " out");
    }
    Map<String, String> os = osRelease();
    List<Component> out = new ArrayList<>();
    boolean database = tracked.containsKey(DPKG_STATUS) || tracked.containsKey(APK_INSTALLED);
    database |= !tracked.subMap(DPKG_STATUS_D, DPKG_STATUS_D + Character.MAX_VALUE).isEmpty();
    for (Attributed a : packages.values()) {
      out.add(osPackage(a.pkg(), a.layer(), os));
    }
    String rpm = null;
    for (Map.Entry<String, Tracked> e : tracked.entrySet()) {
      if (e.getValue() instanceof RpmDb) {
        rpm = e.getKey();
      }
    }
    if (rpm != null) {
      ctx.warn(
          "the image has an rpm database (/"
              + rpm
              + "), which Kiln does not read (SQLite or Berkeley DB, readable only with native"
              + " code): the SBOMs list the rpm packages its packages layers recorded, not the"
              + " others");
    }
    if (!database) {
      out.addAll(recordedPackages(os));
    }
    for (Map.Entry<String, Tracked> e : tracked.entrySet()) {
      LayerRecord l = layers.get(e.getValue().layer());
      String path = "/" + e.getKey();
      if (e.getValue() instanceof JarFile j) {
        JarInspector.Jar jar = j.jar();
        String name =
            jar.hasCoordinates() ? jar.artifactId() : path.substring(path.lastIndexOf('/') + 1);
        String purl =
            jar.hasCoordinates()
                ? Purls.of("maven", jar.groupId(), jar.artifactId(), jar.version(), Map.of())
                : "";
        out.add(
            new Component(
                Component.Type.JAR,
                name,
                jar.groupId(),
                jar.version(),
                "",
                "",
                purl,
                path,
                jar.sha256(),
                "",
                l.name(),
                l.diffId()));
      } else if (e.getValue() instanceof PlainFile f) {
        out.add(
            new Component(
                Component.Type.FILE,
                path,
                "",
                "",
                "",
                "",
                "",
                path,
                f.sha256(),
                f.sha1(),
                l.name(),
                l.diffId()));
      }
    }
    return new Contents(List.copyOf(out), os);
  }

  /**
   * Lays layer {@code i} over the layers below it: from the notes taken while this bake wrote it,
   * else read from the store.
   */
  private void readLayer(int i) throws IOException {
    LayerRecord l = layers.get(i);
    boolean filesLayer = l.kind().equals("files");
    Consumer<String> warn = m -> ctx.warn("layer '" + l.name() + "': " + m);
    Optional<LayerNotes> notes = ctx.notes(l);
    if (notes.isPresent()
        && notes.get() instanceof LayerFindings f
        && f.complete()
        && f.filesLayer() == filesLayer
        && f.limit() == limit) {
      f.entries().forEach(e -> apply(i, e, warn));
      f.warnings().forEach(warn);
      return;
    }
    try (InputStream blob = ctx.image().openBlob(l.digest())) {
      LayerFindings.read(
          blob,
          "layer '" + l.name() + "' (" + l.digest() + ")",
          filesLayer,
          limit,
          e -> apply(i, e, warn),
          warn);
    }
  }

  private void apply(int i, LayerFindings.Entry e, Consumer<String> warn) {
    String p = e.path();
    switch (e.type()) {
      case WHITEOUT -> {
        remove(p);
        removeUnder(p, Integer.MAX_VALUE);
      }
      case OPAQUE_WHITEOUT -> removeUnder(p, i);
      case DIRECTORY -> remove(p);
      case FILE -> {
        remove(p);
        removeUnder(p, i);
        file(i, p, e.finding(), warn);
      }
      default -> {
        remove(p);
        removeUnder(p, i);
      }
    }
  }

  private void file(int layer, String p, LayerFindings.Finding finding, Consumer<String> warn) {
    if (finding instanceof LayerFindings.Database d) {
      put(p, new DbFile(layer, d.content()));
    } else if (finding instanceof LayerFindings.TooLarge t) {
      warn.accept("/" + p + " is " + t.size() + " bytes, too large to be read: it is ignored");
      dbGeneration++;
    } else if (finding instanceof LayerFindings.RpmDatabase) {
      put(p, new RpmDb(layer));
    } else if (finding instanceof LayerFindings.JarFile j) {
      if (jars >= limit) {
        jarsLeftOut++;
      } else {
        put(p, new JarFile(layer, j.jar()));
      }
    } else if (finding instanceof LayerFindings.PlainFile f) {
      if (files >= limit) {
        filesLeftOut++;
      } else {
        put(p, new PlainFile(layer, f.sha256(), f.sha1()));
      }
    } else if (finding instanceof LayerFindings.LeftOut o) {
      if (o.jar()) {
        jarsLeftOut++;
      } else {
        filesLeftOut++;
      }
    }
  }

  static boolean isDatabase(String p) {
    return p.equals(DPKG_STATUS)
        || p.equals(APK_INSTALLED)
        || (p.startsWith(DPKG_STATUS_D)
            && p.indexOf('/', DPKG_STATUS_D.length()) < 0
            && !p.endsWith(".md5sums"));
  }

  private void put(String p, Tracked t) {
    if (t instanceof DbFile) {
      dbGeneration++;
    } else if (t instanceof JarFile) {
      jars++;
    } else if (t instanceof PlainFile) {
      files++;
    }
    tracked.put(p, t);
  }

  private void remove(String p) {
    forget(tracked.remove(p));
  }

  /** Forgets what is below directory {@code dir} that a layer lower than {@code layer} wrote. */
  private void removeUnder(String dir, int layer) {
    var under = tracked.subMap(dir + "/", dir + "/" + Character.MAX_VALUE);
    var it = under.values().iterator();
    while (it.hasNext()) {
      Tracked t = it.next();
      if (t.layer() < layer) {
        it.remove();
        forget(t);
      }
    }
  }

  private void forget(Tracked t) {
    if (t instanceof DbFile) {
      dbGeneration++;
    } else if (t instanceof JarFile) {
      jars--;
    } else if (t instanceof PlainFile) {
      files--;
    }
  }

  /**
   * Reads the package database as it stands after layer {@code layer}, which changed it: a package
   * the database held before at the same version keeps its layer, any other is this layer's.
   */
  private void attributePackages(int layer) {
    List<String> problems = new ArrayList<>();
    Map<String, Attributed> now = new TreeMap<>();
    for (Map.Entry<String, Tracked> e : tracked.entrySet()) {
      if (!(e.getValue() instanceof DbFile db) || OS_RELEASE.contains(e.getKey())) {
        continue;
      }
      String p = "/" + e.getKey();
      PackageDatabase.Parsed parsed =
          e.getKey().equals(APK_INSTALLED)
              ? PackageDatabase.apk(p, db.content())
              : PackageDatabase.dpkg(p, db.content());
      problems.addAll(parsed.problems());
      for (PackageDatabase.Pkg pkg : parsed.packages()) {
        Attributed before = packages.get(pkg.key());
        int from =
            before != null && before.pkg().version().equals(pkg.version()) ? before.layer() : layer;
        now.putIfAbsent(pkg.key(), new Attributed(pkg, from));
      }
    }
    packages = now;
    dbProblems = problems;
  }

  /** ID and VERSION_ID of the final os-release, empty when there is none. */
  private Map<String, String> osRelease() {
    for (String p : OS_RELEASE) {
      if (tracked.get(p) instanceof DbFile f) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : new String(f.content(), StandardCharsets.UTF_8).split("\n")) {
          int i = line.indexOf('=');
          if (i > 0) {
            String k = line.substring(0, i).strip();
            String v = line.substring(i + 1).strip().replaceAll("^[\"']|[\"']$", "");
            if ((k.equals("ID") || k.equals("VERSION_ID")) && v.matches("[A-Za-z0-9._-]{1,64}")) {
              m.put(k, v);
            }
          }
        }
        return m;
      }
    }
    return Map.of();
  }

  private Component osPackage(PackageDatabase.Pkg pkg, int layer, Map<String, String> os) {
    LayerRecord l = layers.get(layer);
    String distro = os.getOrDefault("ID", pkg.manager().equals("apk") ? "alpine" : "debian");
    Map<String, String> q = new TreeMap<>();
    if (!pkg.arch().isEmpty()) {
      q.put("arch", pkg.arch());
    }
    if (os.containsKey("ID") && os.containsKey("VERSION_ID")) {
      q.put("distro", os.get("ID") + "-" + os.get("VERSION_ID"));
    }
    return new Component(
        Component.Type.OS_PACKAGE,
        pkg.name(),
        "",
        pkg.version(),
        pkg.arch(),
        pkg.manager(),
        Purls.of(pkg.manager(), distro, pkg.name(), pkg.version(), q),
        "",
        "",
        "",
        l.name(),
        l.diffId());
  }

  /**
   * The packages the packages layers recorded ({@code package.NAME} metadata), for an image whose
   * package database Kiln cannot read (rpm): each attributed to the layer that recorded it.
   */
  private List<Component> recordedPackages(Map<String, String> os) {
    Map<String, Component> out = new TreeMap<>();
    for (LayerRecord l : layers) {
      String manager =
          switch (l.metadata().getOrDefault("package-manager", "")) {
            case "apt" -> "deb";
            case "apk" -> "apk";
            case "dnf", "yum", "microdnf" -> "rpm";
            default -> "";
          };
      if (manager.isEmpty()) {
        continue;
      }
      String distro =
          os.getOrDefault(
              "ID",
              switch (manager) {
                case "deb" -> "debian";
                case "apk" -> "alpine";
                default -> "fedora";
              });
      for (Map.Entry<String, String> m : l.metadata().entrySet()) {
        if (m.getKey().startsWith("package.")) {
          String name = m.getKey().substring("package.".length());
          out.put(
              name,
              new Component(
                  Component.Type.OS_PACKAGE,
                  name,
                  "",
                  m.getValue(),
                  "",
                  manager,
                  Purls.of(manager, distro, name, m.getValue(), Map.of()),
                  "",
                  "",
                  "",
                  l.name(),
                  l.diffId()));
        }
      }
    }
    return new ArrayList<>(out.values());
  }

  /** Components in the order the documents list them. */
  static final Comparator<Component> ORDER =
      Comparator.comparing(Component::type)
          .thenComparing(Component::manager)
          .thenComparing(Component::name)
          .thenComparing(Component::arch)
          .thenComparing(Component::path);
}
