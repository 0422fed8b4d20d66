package dev.kiln.internal.deflate;

import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which {@link DeflateEngine} Kiln's gzip uses, so that a layer's blob digest is a function of its
 * content and level alone, on every machine.
 *
 * <p>The JDK's {@link java.util.zip.Deflater} is whatever zlib the JDK links: standard zlib on most
 * systems, but zlib-ng (the system zlib of recent Fedora and RHEL) or a patched fork elsewhere,
 * whose bytes differ for the same input and level. So once per JVM, at the first use, {@link
 * #standard()} compresses known vectors with the JDK's deflater at every level ({@link
 * DeflateVectors}, a few milliseconds) and compares their SHA-256 with standard zlib's. Where they
 * match, the JDK's deflater is used (it is native and the fastest); where any level deviates,
 * Kiln's own port of standard zlib's deflate ({@link ZlibDeflater}, pure Java, byte-identical) is
 * used instead, and an INFO line says why.
 *
 * <p>The system property {@value #PROPERTY} chooses: {@code auto} (the default, as above), {@code
 * jdk} (the JDK's deflater, unchecked) or {@code java} (the Java port always). Any other value
 * fails the first gzip stream with an error naming the property.
 */
public final class DeflateEngines {
  /** The system property that chooses the engine: {@code auto}, {@code jdk} or {@code java}. */
  public static final String PROPERTY = "kiln.deflate";

  /** The JDK's {@link java.util.zip.Deflater}. */
  public static final DeflateEngine.Factory JDK = JdkDeflateEngine.FACTORY;

  /** Kiln's pure-Java port of standard zlib's deflate. */
  public static final DeflateEngine.Factory JAVA =
      new DeflateEngine.Factory() {
        @Override
        public String name() {
          return "java";
        }

        @Override
        public DeflateEngine create(int level) {
          return new ZlibDeflater(level);
        }

        @Override
        public String toString() {
          return "Kiln's Java port of zlib's deflate";
        }
      };

  private static final Logger log = LoggerFactory.getLogger(DeflateEngines.class);

  private static volatile DeflateEngine.Factory platform = JDK;
  private static volatile DeflateEngine.Factory chosen;

  private DeflateEngines() {}

  /** The engine factory that gives standard zlib's bytes here, chosen at the first call. */
  public static DeflateEngine.Factory standard() {
    DeflateEngine.Factory f = chosen;
    if (f == null) {
      synchronized (DeflateEngines.class) {
        f = chosen;
        if (f == null) {
          f = choose(System.getProperty(PROPERTY), platform);
          chosen = f;
        }
      }
    }
    return f;
  }

  /**
   * The engine for {@code mode} (a {@value #PROPERTY} value; null or empty is {@code auto}), chosen
   * now, with the JDK's deflater (or what a test made stand for it) as the platform's.
   */
  public static DeflateEngine.Factory choose(String mode) {
    return choose(mode, platform);
  }

  /**
   * The engine for {@code mode} (a {@value #PROPERTY} value; null or empty is {@code auto}), with
   * {@code platform} as the JDK's deflater.
   */
  public static DeflateEngine.Factory choose(String mode, DeflateEngine.Factory platform) {
    String m = mode == null ? "" : mode.strip().toLowerCase(Locale.ROOT);
    switch (m) {
      case "jdk":
        return platform;
      case "java":
        return JAVA;
      case "":
      case "auto":
        List<Integer> deviating = DeflateVectors.deviatingLevels(platform);
        if (deviating.isEmpty()) {
          return platform;
        }
        log.info(
            "The platform's deflate ({}) does not give standard zlib's bytes at level(s) {}, so blob"
                + " digests would differ from other machines'; Kiln compresses with its own Java port"
                + " of zlib's deflate instead (-D{}=jdk forces the platform's)",
            platform,
            deviating,
            PROPERTY);
        return JAVA;
      default:
        throw new IllegalArgumentException(
            "-D" + PROPERTY + " must be auto, jdk or java, found '" + mode + "'");
    }
  }

  /**
   * For tests: makes {@code jdkDeflater} stand for the JDK's deflater and chooses again at the next
   * {@link #standard()}, until the returned handle is closed.
   */
  public static AutoCloseable withPlatformDeflater(DeflateEngine.Factory jdkDeflater) {
    synchronized (DeflateEngines.class) {
      DeflateEngine.Factory before = platform;
      platform = jdkDeflater;
      chosen = null;
      return () -> {
        synchronized (DeflateEngines.class) {
          platform = before;
          chosen = null;
        }
      };
    }
  }
}
