package dev.kiln.internal.keys;

import dev.kiln.Digest;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The stat index as one layer sees it, counting what it checked and what it had to read.
 * Thread-safe.
 */
public final class StatDigests implements FileDigests {
  private final StatIndex index;
  private final AtomicLong checked = new AtomicLong();
  private final AtomicLong read = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();

  public StatDigests(StatIndex index) {
    this.index = index;
  }

  /** How many files were looked up. */
  public long checked() {
    return checked.get();
  }

  /** How many of them had to be read (their stat changed or was unknown). */
  public long read() {
    return read.get();
  }

  /** How many bytes those reads hashed. */
  public long bytesRead() {
    return bytes.get();
  }

  @Override
  public Digest digest(Path file) throws IOException {
    StatIndex.Result r = index.digest(file);
    checked.incrementAndGet();
    if (r.read()) {
      read.incrementAndGet();
      bytes.addAndGet(r.bytesRead());
    }
    return r.digest();
  }

  @Override
  public Digest digest(Path file, FileStat stat) throws IOException {
    StatIndex.Result r = index.digest(file, stat);
    checked.incrementAndGet();
    if (r.read()) {
      read.incrementAndGet();
      bytes.addAndGet(r.bytesRead());
    }
    return r.digest();
  }

  @Override
  public void forget(Path file) {
    index.forget(file);
  }
}
