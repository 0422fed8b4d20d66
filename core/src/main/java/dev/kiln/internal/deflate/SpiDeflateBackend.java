package dev.kiln.internal.deflate;

import dev.kiln.spi.Deflate;

/**
 * The engines behind {@link Deflate}, the SPI's zlib streams: those of {@link DeflateEngines}, so
 * providers compress with the engine Kiln's layers use. Found with {@link java.util.ServiceLoader}.
 */
public final class SpiDeflateBackend implements Deflate.Backend {
  /** Called by {@link java.util.ServiceLoader}. */
  public SpiDeflateBackend() {}

  @Override
  public Deflate.Backend.Engine engine(String mode) {
    DeflateEngine.Factory f =
        mode == null ? DeflateEngines.standard() : DeflateEngines.choose(mode);
    return new Deflate.Backend.Engine() {
      @Override
      public String name() {
        return f.name();
      }

      @Override
      public Deflate.Backend.RawDeflater open(int level) {
        return new Raw(f.create(level));
      }
    };
  }

  /** Whole buffers through one engine, reset before each. */
  private static final class Raw implements Deflate.Backend.RawDeflater {
    private final DeflateEngine engine;

    Raw(DeflateEngine engine) {
      this.engine = engine;
    }

    @Override
    public int deflate(byte[] in, int off, int len, byte[] out, int outOff, int outLen) {
      engine.reset();
      engine.setInput(in, off, len);
      int n = 0;
      int idle = 0;
      while (!engine.finished()) {
        if (n == outLen) {
          return -1;
        }
        int k = engine.deflate(out, outOff + n, outLen - n, DeflateEngine.FINISH);
        n += k;
        // with room left, finishing always writes something; guard against an engine that stalls
        if (k == 0 && ++idle > 3) {
          throw new IllegalStateException(
              "deflate engine " + engine + " wrote nothing while finishing a stream");
        }
      }
      return n;
    }

    @Override
    public void end() {
      engine.end();
    }
  }
}
