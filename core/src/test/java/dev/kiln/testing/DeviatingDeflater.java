package dev.kiln.testing;

import dev.kiln.internal.deflate.DeflateEngine;
import java.util.zip.Deflater;

/**
 * A deflate engine that stands for a non-standard zlib (zlib-ng, a patched fork): the JDK's
 * Deflater switched to the FILTERED strategy, whose valid deflate streams differ from standard
 * zlib's for the same input and level, as another zlib's do.
 */
public final class DeviatingDeflater implements DeflateEngine {
  /** Engines that deviate from standard zlib. */
  public static final DeflateEngine.Factory FACTORY =
      new DeflateEngine.Factory() {
        @Override
        public String name() {
          return "deviating";
        }

        @Override
        public DeflateEngine create(int level) {
          return new DeviatingDeflater(level);
        }

        @Override
        public String toString() {
          return "a deflater with the FILTERED strategy";
        }
      };

  private final Deflater d;
  private final int level;

  private DeviatingDeflater(int level) {
    this.level = level;
    this.d = new Deflater(level, true);
    d.setStrategy(Deflater.FILTERED);
  }

  @Override
  public int level() {
    return level;
  }

  @Override
  public void setDictionary(byte[] b, int off, int len) {
    d.setDictionary(b, off, len);
  }

  @Override
  public void setInput(byte[] b, int off, int len) {
    d.setInput(b, off, len);
  }

  @Override
  public boolean needsInput() {
    return d.needsInput();
  }

  @Override
  public int deflate(byte[] out, int off, int len, int flush) {
    if (flush == FINISH) {
      d.finish();
      return d.deflate(out, off, len, Deflater.NO_FLUSH);
    }
    return d.deflate(out, off, len, flush == SYNC_FLUSH ? Deflater.SYNC_FLUSH : Deflater.NO_FLUSH);
  }

  @Override
  public boolean finished() {
    return d.finished();
  }

  @Override
  public void reset() {
    d.reset();
  }

  @Override
  public void end() {
    d.end();
  }
}
