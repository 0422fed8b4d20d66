package dev.kiln.vmware;

import dev.kiln.InvalidTargetException;
import dev.kiln.disk.DiskOptions;
import dev.kiln.disk.DiskParameters;
import dev.kiln.vmware.auth.TlsTrust;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where a {@code vsphere://} image goes: a vCenter, a datacenter, and either an inventory folder
 * (the image becomes a VM template) or a content library (the image becomes an OVF template item).
 *
 * <pre>
 * vsphere://HOST[:PORT]/DATACENTER/vm/FOLDER/NAME?datastore=DS&amp;pool=CLUSTER[&amp;network=NET][&amp;thumbprint=SHA256]
 * vsphere://HOST[:PORT]/DATACENTER/NAME?library=LIB[&amp;datastore=DS][&amp;thumbprint=SHA256]
 * </pre>
 *
 * <ul>
 *   <li>{@code FOLDER} is an inventory path under the datacenter and starts with {@code vm} (the
 *       datacenter's VM folder); {@code vsphere://HOST/DC/NAME} means the {@code vm} folder itself.
 *   <li>{@code datastore} (template mode: required) is a datastore name in the datacenter; in
 *       library mode it is only used to create the library if it does not exist.
 *   <li>{@code pool} (template mode: required) is a cluster, host or resource pool path under the
 *       datacenter's host folder: {@code C1}, {@code C1/Resources/batch}.
 *   <li>{@code network} maps the OVF's network to this vSphere network (a port group name); without
 *       it vSphere picks its default.
 *   <li>{@code library} selects content library mode: the item {@code NAME} in library {@code
 *       library}.
 *   <li>{@code thumbprint} pins vCenter's certificate by its SHA-256 thumbprint (see {@link
 *       TlsTrust}); without it the platform's CAs are trusted. Credentials never go in the target.
 *   <li>{@code disk.NAME} set the {@link DiskOptions} of the template's disk (see {@link
 *       DiskParameters}); in code, {@link #diskOptions(DiskOptions)}.
 * </ul>
 *
 * <p>Immutable and thread-safe.
 */
public final class VsphereTarget implements dev.kiln.Target {
  /** The URI scheme. */
  public static final String SCHEME = "vsphere";

  @Override
  public String scheme() {
    return SCHEME;
  }

  /** What a target makes of the image. */
  public enum Mode {
    /** A virtual machine template in an inventory folder (ImportVApp, then MarkAsTemplate). */
    TEMPLATE,
    /** An OVF template item in a content library. */
    LIBRARY
  }

  private static final Pattern HOST =
      Pattern.compile("[A-Za-z0-9._-]+(:[0-9]{1,5})?|\\[[0-9A-Fa-f:.]+](:[0-9]{1,5})?");
  private static final List<String> KEYS =
      List.of("datastore", "pool", "network", "library", "thumbprint");

  private final String host;
  private final String datacenter;
  private final String folder; // null in library mode
  private final String name;
  private final Map<String, String> options; // keys from KEYS, in KEYS order
  private final DiskOptions diskOptions;

  private VsphereTarget(
      String host,
      String datacenter,
      String folder,
      String name,
      Map<String, String> options,
      DiskOptions diskOptions) {
    this.host = host;
    this.datacenter = datacenter;
    this.folder = folder;
    this.name = name;
    this.options = options;
    this.diskOptions = Objects.requireNonNull(diskOptions, "diskOptions");
  }

  /**
   * Parses a {@code vsphere://} target.
   *
   * @throws InvalidTargetException saying what is wrong and what was expected
   */
  public static VsphereTarget parse(String uri) {
    if (uri == null || !uri.startsWith(SCHEME + "://")) {
      throw invalid(uri, "expected vsphere://HOST/DATACENTER/vm/FOLDER/NAME?datastore=…&pool=…");
    }
    String rest = uri.substring(SCHEME.length() + 3);
    String query = "";
    int q = rest.indexOf('?');
    if (q >= 0) {
      query = rest.substring(q + 1);
      rest = rest.substring(0, q);
    }
    int slash = rest.indexOf('/');
    String host = slash < 0 ? rest : rest.substring(0, slash);
    if (host.contains("@")) {
      throw invalid(
          uri,
          "credentials do not go in the target: set KILN_VSPHERE_USER and KILN_VSPHERE_PASSWORD, or"
              + " pass them in code");
    }
    List<String> segments = new ArrayList<>();
    if (slash >= 0) {
      for (String s : rest.substring(slash + 1).split("/", -1)) {
        segments.add(decodePath(uri, s));
      }
    }
    Map<String, String> options = new LinkedHashMap<>();
    DiskParameters disk = DiskParameters.create();
    if (!query.isEmpty()) {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        String key = eq < 0 ? pair : pair.substring(0, eq);
        String value =
            eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        if (DiskParameters.isDiskParameter(key)) {
          try {
            disk.put(key, value);
          } catch (InvalidTargetException e) {
            throw invalid(uri, e.getMessage());
          }
          continue;
        }
        if (!KEYS.contains(key)) {
          throw invalid(
              uri, "unknown option '" + key + "': expected one of " + KEYS + " or disk.NAME");
        }
        if (options.put(key, value) != null) {
          throw invalid(uri, "option '" + key + "' given twice");
        }
      }
    }
    VsphereTarget t;
    if (options.containsKey("library")) {
      if (segments.size() != 2) {
        throw invalid(
            uri,
            "a content library target is vsphere://HOST/DATACENTER/NAME?library=LIB (no folder:"
                + " library items have none), found "
                + segments.size()
                + " path segment(s)");
      }
      t =
          new VsphereTarget(
              host, segments.get(0), null, segments.get(1), sorted(Map.of()), disk.options());
    } else {
      if (segments.size() < 2) {
        throw invalid(
            uri, "expected vsphere://HOST/DATACENTER/vm/FOLDER/NAME, found no template name");
      }
      String folder =
          segments.size() == 2 ? "vm" : String.join("/", segments.subList(1, segments.size() - 1));
      t =
          new VsphereTarget(
              host,
              segments.get(0),
              folder,
              segments.get(segments.size() - 1),
              sorted(Map.of()),
              disk.options());
    }
    t = t.with(options, uri);
    t.checkComplete(uri);
    return t;
  }

  /**
   * A template target: {@code NAME} in inventory folder {@code folder} (a path that starts with
   * {@code vm}).
   */
  public static VsphereTarget template(String host, String datacenter, String folder, String name) {
    VsphereTarget t =
        new VsphereTarget(host, datacenter, folder, name, sorted(Map.of()), DiskOptions.defaults());
    t.checkNames(t.toString());
    return t;
  }

  /** A content library target: item {@code name} in library {@code library}. */
  public static VsphereTarget libraryItem(
      String host, String datacenter, String library, String name) {
    VsphereTarget t =
        new VsphereTarget(host, datacenter, null, name, sorted(Map.of()), DiskOptions.defaults());
    return t.withOption("library", library);
  }

  /** A copy with the datastore. */
  public VsphereTarget datastore(String datastore) {
    return withOption("datastore", datastore);
  }

  /** A copy with the resource pool (cluster, host, or pool path under the host folder). */
  public VsphereTarget pool(String pool) {
    return withOption("pool", pool);
  }

  /** A copy that maps the OVF's network to this vSphere network. */
  public VsphereTarget network(String network) {
    return withOption("network", network);
  }

  /** A copy that pins vCenter's certificate by its SHA-256 thumbprint. */
  public VsphereTarget thumbprint(String sha256) {
    TlsTrust.pinnedSha256(sha256); // validates
    return withOption("thumbprint", sha256);
  }

  /** A copy whose disk is built with these options ({@code disk.NAME} parameters in the URI). */
  public VsphereTarget diskOptions(DiskOptions options) {
    return new VsphereTarget(host, datacenter, folder, name, this.options, options);
  }

  /**
   * @deprecated use {@link #diskOptions(DiskOptions)}
   */
  @Deprecated(since = "0.2")
  public VsphereTarget withDiskOptions(DiskOptions options) {
    return diskOptions(options);
  }

  /** How the template's disk is built. */
  public DiskOptions diskOptions() {
    return diskOptions;
  }

  /** {@code HOST} or {@code HOST:PORT}. */
  public String host() {
    return host;
  }

  /** The datacenter's name. */
  public String datacenter() {
    return datacenter;
  }

  /** The inventory folder under the datacenter ({@code vm/templates}); empty in library mode. */
  public Optional<String> folder() {
    return Optional.ofNullable(folder);
  }

  /** The template's or item's name. */
  public String name() {
    return name;
  }

  /** The mode. */
  public Mode mode() {
    return options.containsKey("library") ? Mode.LIBRARY : Mode.TEMPLATE;
  }

  /** The datastore, if given. */
  public Optional<String> datastore() {
    return Optional.ofNullable(options.get("datastore"));
  }

  /** The resource pool, if given. */
  public Optional<String> pool() {
    return Optional.ofNullable(options.get("pool"));
  }

  /** The vSphere network, if given. */
  public Optional<String> network() {
    return Optional.ofNullable(options.get("network"));
  }

  /** The content library, in library mode. */
  public Optional<String> library() {
    return Optional.ofNullable(options.get("library"));
  }

  /** The pinned SHA-256 thumbprint, if given. */
  public Optional<String> thumbprint() {
    return Optional.ofNullable(options.get("thumbprint"));
  }

  /** The TLS trust the target asks for: its pinned thumbprint, or the platform's CAs. */
  public TlsTrust trust() {
    return thumbprint().map(TlsTrust::pinnedSha256).orElse(TlsTrust.systemDefault());
  }

  /** The datacenter's inventory path, {@code /DC}. */
  public String datacenterPath() {
    return "/" + escapeName(datacenter);
  }

  /** The template's inventory path, {@code /DC/vm/FOLDER/NAME} (template mode). */
  public String inventoryPath() {
    if (folder == null) {
      throw new IllegalStateException("a content library target has no inventory path: " + this);
    }
    return datacenterPath() + "/" + folder + "/" + escapeName(name);
  }

  /** The folder's inventory path, {@code /DC/vm/FOLDER} (template mode). */
  public String folderPath() {
    if (folder == null) {
      throw new IllegalStateException("a content library target has no folder: " + this);
    }
    return datacenterPath() + "/" + folder;
  }

  /**
   * Checks that everything the mode needs is there: a template target needs {@code datastore} and
   * {@code pool}.
   *
   * @throws InvalidTargetException naming what is missing
   */
  public VsphereTarget checkComplete() {
    checkComplete(toString());
    return this;
  }

  /** The target in canonical form: options in a fixed order, names percent-encoded. */
  @Override
  public String toString() {
    StringBuilder sb =
        new StringBuilder(SCHEME).append("://").append(host).append('/').append(encode(datacenter));
    if (folder != null) {
      for (String s : folder.split("/")) {
        sb.append('/').append(encode(s));
      }
    }
    sb.append('/').append(encode(name));
    char sep = '?';
    for (Map.Entry<String, String> e : options.entrySet()) {
      sb.append(sep).append(e.getKey()).append('=').append(encode(e.getValue()));
      sep = '&';
    }
    for (String p : DiskParameters.toParameters(diskOptions)) {
      sb.append(sep).append(p);
      sep = '&';
    }
    return sb.toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VsphereTarget t && toString().equals(t.toString());
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }

  private VsphereTarget withOption(String key, String value) {
    Map<String, String> m = new LinkedHashMap<>(options);
    m.put(key, value);
    return with(m, toString());
  }

  private VsphereTarget with(Map<String, String> m, String uri) {
    for (Map.Entry<String, String> e : m.entrySet()) {
      if (e.getValue() == null || e.getValue().isBlank()) {
        throw invalid(uri, "option '" + e.getKey() + "' has no value");
      }
    }
    if (m.containsKey("thumbprint")) {
      try {
        TlsTrust.pinnedSha256(m.get("thumbprint"));
      } catch (IllegalArgumentException e) {
        throw invalid(uri, e.getMessage());
      }
    }
    VsphereTarget t = new VsphereTarget(host, datacenter, folder, name, sorted(m), diskOptions);
    t.checkNames(uri);
    return t;
  }

  private void checkNames(String uri) {
    if (host == null || !HOST.matcher(host).matches()) {
      throw invalid(
          uri, "expected a host name or address with an optional :port, found '" + host + "'");
    }
    checkName(uri, "datacenter", datacenter);
    checkName(uri, "name", name);
    if (folder != null) {
      List<String> parts = Arrays.asList(folder.split("/", -1));
      if (!parts.get(0).equals("vm")) {
        throw invalid(
            uri,
            "the folder is an inventory path under the datacenter and starts with 'vm' (the VM"
                + " folder), as in vsphere://HOST/DC/vm/templates/NAME; found '"
                + folder
                + "'");
      }
      for (String p : parts) {
        checkName(uri, "folder", p);
      }
    }
  }

  private void checkComplete(String uri) {
    if (mode() == Mode.TEMPLATE) {
      List<String> missing = new ArrayList<>();
      for (String k : List.of("datastore", "pool")) {
        if (!options.containsKey(k)) {
          missing.add(k);
        }
      }
      if (!missing.isEmpty()) {
        throw invalid(
            uri,
            "a template target needs "
                + String.join(" and ", missing)
                + " (…?datastore=DS&pool=CLUSTER), or library=LIB for a content library item");
      }
    }
  }

  private static void checkName(String uri, String what, String value) {
    if (value == null || value.isEmpty() || value.length() > 80) {
      throw invalid(uri, "the " + what + " must be 1-80 characters, found '" + value + "'");
    }
    if (value.indexOf('/') >= 0
        || value.indexOf('\\') >= 0
        || value.chars().anyMatch(c -> c < 0x20)) {
      throw invalid(
          uri, "the " + what + " '" + value + "' contains '/', '\\' or a control character");
    }
  }

  /** vSphere escapes '%' in entity names when it builds inventory paths. */
  private static String escapeName(String name) {
    return name.replace("%", "%25");
  }

  private static Map<String, String> sorted(Map<String, String> m) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String k : KEYS) {
      if (m.containsKey(k)) {
        out.put(k, m.get(k));
      }
    }
    return java.util.Collections.unmodifiableMap(out);
  }

  private static String decodePath(String uri, String s) {
    try {
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw invalid(uri, "bad percent-encoding in '" + s + "'");
    }
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20").replace("%3A", ":");
  }

  private static InvalidTargetException invalid(String uri, String why) {
    return new InvalidTargetException(
        "invalid vSphere target '" + Objects.toString(uri, "null") + "': " + why);
  }
}
