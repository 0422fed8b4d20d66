package dev.kiln.spi;

import java.util.Objects;
import java.util.ServiceLoader;
import java.util.zip.Adler32;

/**
 * zlib streams (RFC 1950) with standard zlib's bytes on every machine, for providers whose output
 * must not depend on the zlib the JDK links: the grains of a streamOptimized VMDK, whose digest is
 * in an OVA's manifest and signature.
 *
 * <p>The JDK's {@link java.util.zip.Deflater} is whatever zlib the JDK links: standard zlib on most
 * systems, but zlib-ng or a patched fork elsewhere, whose bytes differ for the same input and
 * level. {@link #standard()} is the deflate engine Kiln's layers use in this JVM: the JDK's
 * deflater where it gives standard zlib's bytes at every level (checked once per JVM against known
 * answers), else Kiln's Java port of standard zlib's deflate. The system property {@value
 * #PROPERTY} chooses as it does for layers: {@code auto} (the default, as above), {@code jdk} (the
 * JDK's deflater, unchecked) or {@code java} (the Java port always); any other value fails with an
 * error naming the property.
 *
 * <p>A {@link Compressor} writes one buffer as one whole zlib stream, the bytes standard zlib's
 * {@code new Deflater(level)} writes for it: the header {@code 0x78} then {@code 0x01}, {@code
 * 0x5e}, {@code 0x9c} or {@code 0xda} for levels 0-1, 2-5, 6 (and -1, zlib's default) and 7-9, the
 * raw deflate stream (RFC 1951: default strategy, 32 KiB window, zlib's default memory level), and
 * the Adler-32 of the input, big-endian.
 *
 * <pre>{@code
 * try (Deflate.Compressor z = Deflate.standard().compressor(6)) {
 *   byte[] out = new byte[Deflate.maxCompressedLength(in.length)];
 *   int n = z.compress(in, 0, in.length, out, 0);
 * }
 * }</pre>
 *
 * <p>An instance is immutable and thread-safe; a {@link Compressor} is used by one thread at a
 * time. Core supplies the engines through {@link Backend}; providers only call this class.
 */
public final class Deflate {
  /** The system property that chooses the engine: {@code auto}, {@code jdk} or {@code java}. */
  public static final String PROPERTY = "kiln.deflate";

  /** zlib's {@code Z_DEFAULT_COMPRESSION}: level 6. */
  public static final int DEFAULT_LEVEL = -1;

  private final Backend.Engine engine;

  private Deflate(Backend.Engine engine) {
    this.engine = Objects.requireNonNull(engine, "engine");
  }

  /**
   * The engine that gives standard zlib's bytes here, the one Kiln's layers use in this JVM (chosen
   * at the first use, as {@value #PROPERTY} says).
   *
   * @throws IllegalArgumentException if {@value #PROPERTY} is not {@code auto}, {@code jdk} or
   *     {@code java}
   */
  public static Deflate standard() {
    return new Deflate(Holder.BACKEND.engine(null));
  }

  /**
   * The engine {@code -D}{@value #PROPERTY}{@code =mode} would choose, chosen now: {@code auto},
   * {@code jdk} or {@code java}. For tests and benchmarks that compare the engines.
   *
   * @throws IllegalArgumentException for any other mode
   */
  public static Deflate engine(String mode) {
    return new Deflate(Holder.BACKEND.engine(Objects.requireNonNull(mode, "mode")));
  }

  /** The engine's short name: {@code jdk} or {@code java}. */
  public String name() {
    return engine.name();
  }

  /**
   * A new compressor at {@code level}: 0 (stored) .. 9 (smallest), or -1 for zlib's default, 6.
   * Close it to release its memory (native memory for the JDK's deflater).
   */
  public Compressor compressor(int level) {
    if (level < DEFAULT_LEVEL || level > 9) {
      throw new IllegalArgumentException("deflate level must be 0..9 or -1, found " + level);
    }
    int l = level == DEFAULT_LEVEL ? 6 : level;
    return new Compressor(engine.open(l), l);
  }

  /**
   * The most bytes a zlib stream of {@code length} input bytes takes (zlib's {@code
   * compressBound}): an output buffer this long always holds the stream.
   */
  public static int maxCompressedLength(int length) {
    if (length < 0) {
      throw new IllegalArgumentException("length must not be negative, found " + length);
    }
    long n = (long) length + (length >> 12) + (length >> 14) + (length >> 25) + 13;
    return Math.toIntExact(n);
  }

  @Override
  public String toString() {
    return "Deflate{" + engine.name() + "}";
  }

  /**
   * Compresses one buffer at a time into a whole zlib stream. Used by one thread at a time; reuse
   * it for the next buffer, and close it when done.
   */
  public static final class Compressor implements AutoCloseable {
    private final Backend.RawDeflater raw;
    private final int level;
    private final Adler32 adler = new Adler32();
    private boolean closed;

    private Compressor(Backend.RawDeflater raw, int level) {
      this.raw = raw;
      this.level = level;
    }

    /** The level, 0-9 (-1 was given as 6). */
    public int level() {
      return level;
    }

    /**
     * Writes {@code in[off, off+len)} as one zlib stream into {@code out} from {@code outOff} and
     * returns its length, or -1 when it does not fit in {@code out} (then {@code out} from {@code
     * outOff} holds nothing to use). {@link #maxCompressedLength} bytes always suffice.
     */
    public int compress(byte[] in, int off, int len, byte[] out, int outOff) {
      Objects.checkFromIndexSize(off, len, in.length);
      Objects.checkFromToIndex(outOff, out.length, out.length);
      if (closed) {
        throw new IllegalStateException("the compressor is closed");
      }
      int room = out.length - outOff;
      if (room < 6) {
        return -1;
      }
      // zlib's header: deflate with a 32 KiB window, the level's class, a check of both bytes
      int header = (0x78 << 8) | (levelFlags(level) << 6);
      header += 31 - header % 31;
      out[outOff] = (byte) (header >>> 8);
      out[outOff + 1] = (byte) header;
      int n = raw.deflate(in, off, len, out, outOff + 2, room - 6);
      if (n < 0) {
        return -1;
      }
      adler.reset();
      adler.update(in, off, len);
      int a = (int) adler.getValue();
      int p = outOff + 2 + n;
      out[p] = (byte) (a >>> 24);
      out[p + 1] = (byte) (a >>> 16);
      out[p + 2] = (byte) (a >>> 8);
      out[p + 3] = (byte) a;
      return n + 6;
    }

    /** Releases the engine's memory; the compressor cannot be used again. */
    @Override
    public void close() {
      if (!closed) {
        closed = true;
        raw.end();
      }
    }

    /** zlib's FLEVEL of the default strategy: 0 fastest, 1 fast, 2 default, 3 maximum. */
    private static int levelFlags(int level) {
      if (level < 2) {
        return 0;
      }
      if (level < 6) {
        return 1;
      }
      return level == 6 ? 2 : 3;
    }
  }

  /**
   * What core puts behind this class, found with {@link ServiceLoader} ({@code
   * META-INF/services/dev.kiln.spi.Deflate$Backend} of kiln-core). Providers use {@link Deflate}
   * and never implement this.
   */
  public interface Backend {
    /**
     * The engine for {@code mode}: null for the one Kiln's layers use in this JVM, else a {@value
     * Deflate#PROPERTY} value chosen now.
     *
     * @throws IllegalArgumentException if the mode (or the property, for null) is not {@code auto},
     *     {@code jdk} or {@code java}
     */
    Engine engine(String mode);

    /** One kind of deflate implementation. */
    interface Engine {
      /** Its short name, as {@value Deflate#PROPERTY} spells it. */
      String name();

      /** A new raw deflater at {@code level} (0-9). */
      RawDeflater open(int level);
    }

    /** Raw deflate (RFC 1951) of whole buffers, with standard zlib's bytes. Not thread-safe. */
    interface RawDeflater {
      /**
       * Deflates {@code in[off, off+len)} as one whole raw deflate stream into {@code out[outOff,
       * outOff+outLen)}; returns its length, or -1 when it does not fit.
       */
      int deflate(byte[] in, int off, int len, byte[] out, int outOff, int outLen);

      /** Releases its memory; it cannot be used again. */
      void end();
    }
  }

  /** The backend, loaded at the first use. */
  private static final class Holder {
    static final Backend BACKEND = load();

    private static Backend load() {
      for (Backend b : ServiceLoader.load(Backend.class, Deflate.class.getClassLoader())) {
        return b;
      }
      throw new IllegalStateException(
          "no deflate engines: META-INF/services/dev.kiln.spi.Deflate$Backend of kiln-core is not"
              + " on the class path");
    }
  }
}
