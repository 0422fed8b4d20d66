package dev.kiln.internal.tar;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;

/**
 * Where the gzip stream of a layer is cut into chunks, between entries: before and after every file
 * of {@value #LARGE_FILE} bytes or more (whose chunks then start at the file's own header), and
 * before a small entry whose path hashes to 0 modulo 16 ({@link #cutsBefore}) when the chunk holds
 * {@value #MIN_CHUNK} bytes or more (smaller chunks cost compression time: fewer bytes in flight
 * per chunk). The first rule depends on the entry alone; the second on the entry and the bytes
 * since the last cut, so after a change the cuts fall where they fell before from the next cut both
 * versions share (within a chunk or two), and the chunks away from the change are the same bytes as
 * in the layer's previous version, which {@link CanonicalLayerWriter#reuseChunks} then copies.
 */
final class ChunkCuts {
  /** Files this large get gzip chunks of their own. */
  static final long LARGE_FILE = 512 * 1024;

  /** The least a chunk holds before a small entry may cut it. */
  static final int MIN_CHUNK = 512 * 1024;

  /**
   * What the cuts go to: the gzip stream itself, or a record of the tar offsets at which a gzip
   * stream fed later from the same tar makes them.
   */
  interface Target {
    /** As {@link ParallelGzipOutputStream#cut()}. */
    void cut();

    /** As {@link ParallelGzipOutputStream#cutIfAtLeast(int)}. */
    void cutIfAtLeast(int minBytes);
  }

  private final Target target;
  private boolean afterLarge;

  /** Cuts {@code gz}, which the entries are written to. */
  ChunkCuts(ParallelGzipOutputStream gz) {
    this(
        new Target() {
          @Override
          public void cut() {
            gz.cut();
          }

          @Override
          public void cutIfAtLeast(int minBytes) {
            gz.cutIfAtLeast(minBytes);
          }
        });
  }

  /** Makes the cuts in {@code target}. */
  ChunkCuts(Target target) {
    this.target = target;
  }

  /** Cuts the stream, if a rule says so, before {@code next} is written to it. */
  void before(LayerEntry next) {
    boolean large = next.type() == Type.FILE && next.size() >= LARGE_FILE;
    if (large || afterLarge) {
      target.cut();
    } else if (cutsBefore(next.path())) {
      target.cutIfAtLeast(MIN_CHUNK);
    }
    afterLarge = large;
  }

  /** Whether a small entry at {@code path} may start a chunk: for about one path in 16. */
  static boolean cutsBefore(String path) {
    int h = path.hashCode(); // specified by String: the same on every JVM
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    return (h & 15) == 0;
  }
}
