package dev.kiln.internal.graph;

import dev.kiln.Digest;
import dev.kiln.internal.hash.StatIndex;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/** The stat index as one layer sees it, counting what it checked and what it had to read. Thread-safe. */
final class StatDigests implements FileDigests {
  private final StatIndex index;
  final AtomicLong checked = new AtomicLong();
  final AtomicLong read = new AtomicLong();
  final AtomicLong bytes = new AtomicLong();

  StatDigests(StatIndex index) {
    this.index = index;
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
