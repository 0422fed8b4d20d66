package dev.kiln;

import dev.kiln.spi.RemoteCache;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * What a {@link Kiln} takes from system properties and environment variables: where the default
 * store lives, the time stamped in layers, the spellings of the remote cache variables, and the
 * switches for serial execution and file-system watching.
 */
final class KilnEnvironment {
  private KilnEnvironment() {}

  /**
   * The default store: the property {@code kiln.store}, {@code $KILN_STORE}, {@code
   * $XDG_CACHE_HOME/kiln}, {@code ~/.cache/kiln}, the first set; empty values count as unset.
   */
  static Path defaultStorePath(
      UnaryOperator<String> properties, UnaryOperator<String> environment) {
    String p = properties.apply("kiln.store");
    if (p == null || p.isEmpty()) {
      p = environment.apply("KILN_STORE");
    }
    if (p != null && !p.isEmpty()) {
      return Path.of(p);
    }
    String xdg = environment.apply("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isEmpty()) {
      return Path.of(xdg, "kiln");
    }
    return Path.of(properties.apply("user.home"), ".cache", "kiln");
  }

  /** {@code $SOURCE_DATE_EPOCH} when it is a number of seconds, else 1. */
  static long sourceDateEpoch() {
    String s = System.getenv("SOURCE_DATE_EPOCH");
    if (s != null && s.matches("\\d{1,12}")) {
      return Long.parseLong(s);
    }
    return 1;
  }

  /** Whether {@code -Dkiln.serial=true} makes every Kiln serial. */
  static boolean serialProperty() {
    return Boolean.getBoolean(Kiln.SERIAL_PROPERTY);
  }

  /** Whether {@code -Dkiln.watch} leaves file-system watching on (anything but {@code false}). */
  static boolean watchProperty() {
    return !"false".equalsIgnoreCase(System.getProperty(Kiln.WATCH_PROPERTY, "true"));
  }

  /** A value of {@code $KILN_REMOTE_CACHE_VERIFY}: {@code digest} or {@code content}. */
  static RemoteCache.Verify verify(String s) {
    return switch (s.strip().toLowerCase(Locale.ROOT)) {
      case "digest" -> RemoteCache.Verify.DIGEST;
      case "content" -> RemoteCache.Verify.CONTENT;
      default ->
          throw new IllegalArgumentException(
              "remote cache verify '" + s + "': expected digest or content");
    };
  }

  /** A value of {@code $KILN_REMOTE_CACHE_MODE}: {@code read-write}, {@code read-only}, ... */
  static RemoteCache.Mode mode(String s) {
    return switch (s.strip().toLowerCase(Locale.ROOT).replace('_', '-')) {
      case "read-write", "rw" -> RemoteCache.Mode.READ_WRITE;
      case "read-only", "ro" -> RemoteCache.Mode.READ_ONLY;
      case "write-only", "wo" -> RemoteCache.Mode.WRITE_ONLY;
      default ->
          throw new IllegalArgumentException(
              "remote cache mode '" + s + "': expected read-write, read-only or write-only");
    };
  }
}
