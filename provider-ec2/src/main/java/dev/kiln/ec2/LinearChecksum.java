package dev.kiln.ec2;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.Map;

/**
 * The EBS direct APIs' LINEAR aggregate checksum: SHA-256 over the raw 32-byte SHA-256 digests of
 * the written blocks, concatenated in ascending block index. Blocks are hashed in parallel and
 * arrive out of order; each is given an ordinal in ascending block order when it is read, and
 * digests are folded in as soon as they are contiguous, so only the blocks in flight are held.
 *
 * <p>Thread-safe.
 */
final class LinearChecksum {
  private final MessageDigest aggregate = sha256();
  private final Map<Long, byte[]> waiting = new HashMap<>();
  private long next;

  /**
   * Adds the digest of the block with the given ordinal (0, 1, 2, ... in ascending block index).
   */
  synchronized void add(long ordinal, byte[] blockDigest) {
    if (ordinal != next) {
      waiting.put(ordinal, blockDigest);
      return;
    }
    aggregate.update(blockDigest);
    next++;
    for (byte[] d = waiting.remove(next); d != null; d = waiting.remove(next)) {
      aggregate.update(d);
      next++;
    }
  }

  /** The aggregate digest of exactly {@code count} blocks. */
  synchronized byte[] finish(long count) {
    if (next != count || !waiting.isEmpty()) {
      throw new IllegalStateException(
          "aggregate checksum expected "
              + count
              + " contiguous block digests, found "
              + next
              + " (+"
              + waiting.size()
              + " out of order)");
    }
    return aggregate.digest();
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }
}
