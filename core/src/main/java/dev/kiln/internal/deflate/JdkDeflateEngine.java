package dev.kiln.internal.deflate;

import java.util.zip.Deflater;

/**
 * A {@link DeflateEngine} on the JDK's {@link Deflater}: the zlib the JDK was built with or links.
 */
final class JdkDeflateEngine implements DeflateEngine {
  /** The factory of JDK engines. */
  static final Factory FACTORY =
      new Factory() {
        @Override
        public String name() {
          return "jdk";
        }

        @Override
        public DeflateEngine create(int level) {
          return new JdkDeflateEngine(new Deflater(level, true), level);
        }

        @Override
        public String toString() {
          return "the JDK's java.util.zip.Deflater";
        }
      };

  private final Deflater deflater;
  private final int level;

  /** An engine on {@code deflater}, a raw ({@code nowrap}) deflater at {@code level}. */
  JdkDeflateEngine(Deflater deflater, int level) {
    this.deflater = deflater;
    this.level = level;
  }

  @Override
  public int level() {
    return level;
  }

  @Override
  public void setDictionary(byte[] b, int off, int len) {
    deflater.setDictionary(b, off, len);
  }

  @Override
  public void setInput(byte[] b, int off, int len) {
    deflater.setInput(b, off, len);
  }

  @Override
  public boolean needsInput() {
    return deflater.needsInput();
  }

  @Override
  public int deflate(byte[] out, int off, int len, int flush) {
    switch (flush) {
      case NO_FLUSH:
        return deflater.deflate(out, off, len, Deflater.NO_FLUSH);
      case SYNC_FLUSH:
        return deflater.deflate(out, off, len, Deflater.SYNC_FLUSH);
      case FINISH:
        deflater.finish(); // the JDK's deflate then asks zlib for Z_FINISH
        return deflater.deflate(out, off, len, Deflater.NO_FLUSH);
      default:
        throw new IllegalArgumentException("unsupported flush mode " + flush);
    }
  }

  @Override
  public boolean finished() {
    return deflater.finished();
  }

  @Override
  public void reset() {
    deflater.reset();
  }

  @Override
  public void end() {
    deflater.end();
  }
}
