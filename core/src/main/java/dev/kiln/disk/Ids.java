package dev.kiln.disk;

import com.google.common.hash.Hashing;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * Identifiers derived from the content instead of drawn at random: the disk GUID, partition GUIDs,
 * the ext4 UUID and hash seed and the FAT serial are all a function of one seed (a digest of the
 * layers and the options), so the same layers give the same disk bit for bit. Thread-safe.
 */
final class Ids {
  private Ids() {}

  /** A version-4-shaped UUID from {@code sha256(seed || 0 || label)}. */
  static UUID uuid(String seed, String label) {
    byte[] h = Hashing.sha256().hashString(seed + '\0' + label, StandardCharsets.UTF_8).asBytes();
    h[6] = (byte) ((h[6] & 0x0f) | 0x40);
    h[8] = (byte) ((h[8] & 0x3f) | 0x80);
    ByteBuffer b = ByteBuffer.wrap(h);
    return new UUID(b.getLong(), b.getLong());
  }

  /** A 32-bit serial number from the seed (for the FAT volume id). */
  static int serial(String seed, String label) {
    byte[] h = Hashing.sha256().hashString(seed + '\0' + label, StandardCharsets.UTF_8).asBytes();
    return ByteBuffer.wrap(h).getInt();
  }

  /** A UUID in the mixed-endian byte order GPT and EFI use (first three fields little-endian). */
  static byte[] guidBytes(UUID u) {
    ByteBuffer be = ByteBuffer.allocate(16);
    be.putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
    byte[] b = be.array();
    byte[] out = b.clone();
    out[0] = b[3];
    out[1] = b[2];
    out[2] = b[1];
    out[3] = b[0];
    out[4] = b[5];
    out[5] = b[4];
    out[6] = b[7];
    out[7] = b[6];
    return out;
  }

  /** The inverse of {@link #guidBytes}. */
  static UUID fromGuidBytes(byte[] g, int off) {
    byte[] b = new byte[16];
    System.arraycopy(g, off, b, 0, 16);
    byte[] be = b.clone();
    be[0] = b[3];
    be[1] = b[2];
    be[2] = b[1];
    be[3] = b[0];
    be[4] = b[5];
    be[5] = b[4];
    be[6] = b[7];
    be[7] = b[6];
    ByteBuffer bb = ByteBuffer.wrap(be);
    return new UUID(bb.getLong(), bb.getLong());
  }
}
