package dev.kiln.spi;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * An input stream that adds every byte read through it to a counter and tells {@code progress} the
 * counter's new value: how stores report the bytes they send. The counter may be shared by several
 * streams (the attempts of one upload, say), so the total includes bytes sent again. {@code skip}
 * is not counted: nothing is sent for it.
 *
 * <p>As thread-safe as the stream it wraps; the counter is atomic.
 */
public final class ProgressInputStream extends FilterInputStream {
  private final AtomicLong total;
  private final LongConsumer progress;

  /** Counts into {@code total} and reports each new total to {@code progress}. */
  public ProgressInputStream(InputStream in, AtomicLong total, LongConsumer progress) {
    super(Objects.requireNonNull(in, "in"));
    this.total = Objects.requireNonNull(total, "total");
    this.progress = Objects.requireNonNull(progress, "progress");
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0) {
      progress.accept(total.incrementAndGet());
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = super.read(b, off, len);
    if (n > 0) {
      progress.accept(total.addAndGet(n));
    }
    return n;
  }
}
