package dev.kiln.disk;

import dev.kiln.InvalidTargetException;
import dev.kiln.spi.TargetPaths;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@link DiskOptions} written as target parameters, the same for every target that builds a disk
 * ({@code raw:}, {@code vmdk:}, {@code ova:}, {@code ovf:}, {@code ec2://}, {@code vsphere://}):
 *
 * <pre>
 * raw:build/web.img?disk.size=8G&amp;disk.kernelArgs=quiet+net.ifnames=0
 * ec2://eu-west-1/web?share=123456789012&amp;disk.freeSpace=2G
 * </pre>
 *
 * <table>
 *   <caption>parameters</caption>
 *   <tr><td>{@code disk.size}</td><td>{@link DiskOptions#size(long)}; {@code auto} for {@link DiskOptions#automaticSize}</td></tr>
 *   <tr><td>{@code disk.freeSpace}</td><td>{@link DiskOptions#freeSpace(long)}</td></tr>
 *   <tr><td>{@code disk.espSize}</td><td>{@link DiskOptions#espSize(long)}</td></tr>
 *   <tr><td>{@code disk.kernelArgs}</td><td>{@link DiskOptions#kernelArgs(String...)}, separated by spaces</td></tr>
 *   <tr><td>{@code disk.consoles}</td><td>{@link DiskOptions#defaultConsoles(boolean)}: true or false</td></tr>
 *   <tr><td>{@code disk.dataOnly}</td><td>{@link DiskOptions#dataOnly(boolean)}: true or false</td></tr>
 *   <tr><td>{@code disk.timestamp}</td><td>{@link DiskOptions#timestamp(long)}, seconds since the epoch</td></tr>
 * </table>
 *
 * <p>Sizes are bytes, or a number with a binary unit: {@code K}, {@code M}, {@code G}, {@code T}
 * (also {@code KiB}, {@code MiB}, …). Values are checked the way the {@code DiskOptions} methods
 * check them, with their messages. Not thread-safe; parse one target per instance.
 */
public final class DiskParameters {
  /** Every disk parameter starts with this. */
  public static final String PREFIX = "disk.";

  /** The parameter names, in the order {@link #toParameters} writes them. */
  public static final List<String> NAMES =
      List.of(
          "disk.size",
          "disk.freeSpace",
          "disk.espSize",
          "disk.kernelArgs",
          "disk.consoles",
          "disk.dataOnly",
          "disk.timestamp");

  private static final Pattern SIZE =
      Pattern.compile("([0-9]{1,19})\\s*([KMGT]?)(iB)?", Pattern.CASE_INSENSITIVE);

  private final Set<String> seen = new HashSet<>();
  private DiskOptions options = DiskOptions.defaults();

  private DiskParameters() {}

  /** An empty set of parameters: {@link DiskOptions#defaults()} until {@link #put} changes them. */
  public static DiskParameters create() {
    return new DiskParameters();
  }

  /** Whether a parameter is a disk parameter (it starts with {@value #PREFIX}), known or not. */
  public static boolean isDiskParameter(String name) {
    return name.startsWith(PREFIX);
  }

  /**
   * Applies one parameter.
   *
   * @throws InvalidTargetException for an unknown name, a name given twice, or a value the option
   *     does not take, saying what was expected
   */
  public DiskParameters put(String name, String value) {
    if (!NAMES.contains(name)) {
      throw new InvalidTargetException(
          "unknown disk parameter '" + name + "': expected one of " + NAMES);
    }
    if (!seen.add(name)) {
      throw new InvalidTargetException("disk parameter '" + name + "' given twice");
    }
    try {
      options = apply(options, name, value);
    } catch (InvalidTargetException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      // DiskOptions' own check, with its own message
      throw new InvalidTargetException(name + "=" + value + ": " + e.getMessage());
    }
    return this;
  }

  /** The options: the defaults changed by the parameters put so far. */
  public DiskOptions options() {
    return options;
  }

  private static DiskOptions apply(DiskOptions o, String name, String value) {
    switch (name) {
      case "disk.size":
        return value.equalsIgnoreCase("auto") ? o.automaticSize() : o.size(size(name, value));
      case "disk.freeSpace":
        return o.freeSpace(size(name, value));
      case "disk.espSize":
        return o.espSize(size(name, value));
      case "disk.kernelArgs":
        String trimmed = value.strip();
        return o.kernelArgs(trimmed.isEmpty() ? new String[0] : trimmed.split("\\s+"));
      case "disk.consoles":
        return o.defaultConsoles(bool(name, value));
      case "disk.dataOnly":
        return o.dataOnly(bool(name, value));
      case "disk.timestamp":
        try {
          return o.timestamp(Long.parseLong(value));
        } catch (NumberFormatException e) {
          throw new InvalidTargetException(
              name + "= expects seconds since the epoch, found '" + value + "'");
        }
      default:
        throw new AssertionError(name);
    }
  }

  private static long size(String name, String value) {
    Matcher m = SIZE.matcher(value.strip());
    if (!m.matches()) {
      throw new InvalidTargetException(
          name
              + "= expects a size in bytes or with a unit K, M, G or T (512M, 8G), found '"
              + value
              + "'");
    }
    int shift =
        switch (m.group(2).toUpperCase(Locale.ROOT)) {
          case "K" -> 10;
          case "M" -> 20;
          case "G" -> 30;
          case "T" -> 40;
          default -> 0;
        };
    try {
      long n = Long.parseLong(m.group(1));
      if (n > (Long.MAX_VALUE >> shift)) {
        throw new NumberFormatException();
      }
      return n << shift;
    } catch (NumberFormatException e) {
      throw new InvalidTargetException(name + "= is too large: '" + value + "'");
    }
  }

  private static boolean bool(String name, String value) {
    if (value.equals("true")) {
      return true;
    }
    if (value.equals("false")) {
      return false;
    }
    throw new InvalidTargetException(name + "= expects true or false, found '" + value + "'");
  }

  /**
   * The parameters that give {@code options}, in {@link #NAMES} order, each {@code name=value} with
   * the value percent-encoded; only those that differ from {@link DiskOptions#defaults()}. Parsing
   * them gives {@code options} again.
   */
  public static List<String> toParameters(DiskOptions options) {
    DiskOptions d = DiskOptions.defaults();
    List<String> out = new ArrayList<>();
    if (!options.size().equals(d.size())) {
      out.add(
          "disk.size="
              + (options.size().isPresent() ? Long.toString(options.size().getAsLong()) : "auto"));
    }
    if (options.freeSpace() != d.freeSpace()) {
      out.add("disk.freeSpace=" + options.freeSpace());
    }
    if (options.espSize() != d.espSize()) {
      out.add("disk.espSize=" + options.espSize());
    }
    if (!options.kernelArgs().equals(d.kernelArgs())) {
      out.add("disk.kernelArgs=" + encode(String.join(" ", options.kernelArgs())));
    }
    if (options.defaultConsoles() != d.defaultConsoles()) {
      out.add("disk.consoles=" + options.defaultConsoles());
    }
    if (options.requireKernel() != d.requireKernel()) {
      out.add("disk.dataOnly=" + !options.requireKernel());
    }
    if (options.timestamp() != d.timestamp()) {
      out.add("disk.timestamp=" + options.timestamp());
    }
    return out;
  }

  /**
   * {@link #toParameters} as a query: empty, or {@code ?} and the parameters joined by {@code &}.
   */
  public static String toQuery(DiskOptions options) {
    List<String> p = toParameters(options);
    return p.isEmpty() ? "" : "?" + String.join("&", p);
  }

  /**
   * A file target's path as written (resolve it with {@link TargetPaths}, as {@code ..} follows the
   * file system) and its disk options.
   */
  public record FileTarget(String path, DiskOptions options) {}

  /**
   * Parses the reference of a file target, {@code FILE[?disk.NAME=VALUE&…]} (for {@code raw:},
   * {@code vmdk:}, …): the first {@code ?} starts the disk parameters (a path with a {@code ?} in
   * it is given in code instead).
   *
   * @param target the whole target, for messages
   * @throws InvalidTargetException for an empty path, an unknown or repeated parameter, or a bad
   *     value
   */
  public static FileTarget parseFile(String target, String reference) {
    int q = reference.indexOf('?');
    String file = q < 0 ? reference : reference.substring(0, q);
    if (file.isBlank()) {
      throw new InvalidTargetException(
          "expected a file path before the disk parameters, found " + target);
    }
    DiskParameters p = create();
    if (q >= 0) {
      for (String pair : reference.substring(q + 1).split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        String name = decode(target, eq < 0 ? pair : pair.substring(0, eq));
        String value = eq < 0 ? "" : decode(target, pair.substring(eq + 1));
        try {
          p.put(name, value);
        } catch (InvalidTargetException e) {
          throw new InvalidTargetException(target + ": " + e.getMessage());
        }
      }
    }
    return new FileTarget(file, p.options());
  }

  private static String decode(String target, String s) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new InvalidTargetException(target + ": bad percent-encoding in '" + s + "'");
    }
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }
}
