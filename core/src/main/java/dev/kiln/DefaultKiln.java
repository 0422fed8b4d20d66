package dev.kiln;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The shared {@link Kiln} of {@link Kiln#defaults()}: opened on first use and again after it was
 * closed, and closed when the JVM exits.
 */
final class DefaultKiln {
  private static Kiln defaults;
  private static boolean defaultsHook;

  private DefaultKiln() {}

  static synchronized Kiln get() {
    if (defaults == null || defaults.isClosed()) {
      try {
        defaults = Kiln.builder().remoteCacheFromEnvironment().build();
      } catch (IOException e) {
        throw new UncheckedIOException(
            "cannot open the Kiln store at " + Kiln.defaultStorePath() + ": " + e.getMessage(), e);
      }
      if (!defaultsHook) {
        defaultsHook = true;
        Runtime.getRuntime().addShutdownHook(new Thread(DefaultKiln::close, "kiln-close"));
      }
    }
    return defaults;
  }

  private static void close() {
    Kiln k;
    synchronized (DefaultKiln.class) {
      k = defaults;
    }
    if (k != null) {
      try {
        k.close();
      } catch (IOException e) {
        // the next process sweeps what is left
      }
    }
  }
}
