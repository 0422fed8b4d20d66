package dev.kiln.internal.tar;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes tar headers byte by byte, in one canonical form: POSIX ustar headers (magic {@code
 * "ustar\0"}, version {@code "00"}), empty user and group names, one fixed mtime, numeric fields as
 * zero-padded octal ended by NUL, and a PAX extended header ({@code 'x'}) in front of an entry only
 * when ustar cannot hold it: a long or non-ASCII path or link target, a size, id or mtime over the
 * octal limits, or extended attributes ({@code SCHILY.xattr.NAME}).
 *
 * <p>Content bytes are written by the caller straight to the stream, followed by {@link
 * #pad(long)}. The archive ends with two zero blocks and is not padded to a 10 KiB record: every
 * reader stops at the zero blocks, and the shorter archive has one form only. Not thread-safe.
 */
final class TarWriter {
  static final int BLOCK = 512;
  static final char REGULAR = '0';
  static final char HARDLINK = '1';
  static final char SYMLINK = '2';
  static final char CHAR_DEVICE = '3';
  static final char BLOCK_DEVICE = '4';
  static final char DIRECTORY = '5';
  static final char FIFO = '6';
  static final char PAX_HEADER = 'x';

  private static final int NAME_LEN = 100;
  private static final int PREFIX_LEN = 155;
  private static final long MAX_OCTAL_7 = 07777777L;
  private static final long MAX_OCTAL_11 = 077777777777L;

  private final OutputStream out;
  private final long mtime;
  private final byte[] header = new byte[BLOCK];

  TarWriter(OutputStream out, long mtimeEpochSeconds) {
    this.out = out;
    this.mtime = mtimeEpochSeconds;
  }

  /**
   * Writes the header(s) of one entry. {@code name} is the archive name (directories end with
   * {@code /}); the caller then writes exactly {@code size} content bytes and calls {@link
   * #pad(long)}.
   */
  void writeHeader(
      String name,
      char type,
      int mode,
      long uid,
      long gid,
      long size,
      String linkName,
      int devMajor,
      int devMinor,
      Map<String, byte[]> xattrs)
      throws IOException {
    TreeMap<String, byte[]> pax = new TreeMap<>();
    byte[] nameBytes = name.getBytes(UTF_8);
    byte[] ustarName;
    byte[] ustarPrefix = new byte[0];
    int split = isAscii(name) ? splitPoint(nameBytes) : -1;
    if (isAscii(name) && nameBytes.length <= NAME_LEN) {
      ustarName = nameBytes;
    } else if (split > 0) {
      ustarPrefix = Arrays.copyOfRange(nameBytes, 0, split);
      ustarName = Arrays.copyOfRange(nameBytes, split + 1, nameBytes.length);
    } else {
      pax.put("path", nameBytes);
      ustarName = truncatedAscii(name, NAME_LEN);
    }
    byte[] link = linkName.getBytes(UTF_8);
    if (!isAscii(linkName) || link.length > NAME_LEN) {
      pax.put("linkpath", link);
      link = truncatedAscii(linkName, NAME_LEN);
    }
    // A value over the ustar limit goes to PAX; the ustar field then holds 0, as Go's archive/tar
    // writes it.
    if (size > MAX_OCTAL_11) {
      pax.put("size", Long.toString(size).getBytes(US_ASCII));
    }
    if (uid > MAX_OCTAL_7) {
      pax.put("uid", Long.toString(uid).getBytes(US_ASCII));
    }
    if (gid > MAX_OCTAL_7) {
      pax.put("gid", Long.toString(gid).getBytes(US_ASCII));
    }
    if (mtime > MAX_OCTAL_11) {
      pax.put("mtime", Long.toString(mtime).getBytes(US_ASCII));
    }
    for (Map.Entry<String, byte[]> x : xattrs.entrySet()) {
      pax.put("SCHILY.xattr." + x.getKey(), x.getValue());
    }
    if (!pax.isEmpty()) {
      byte[] records = paxRecords(pax);
      String paxName =
          "PaxHeaders/" + (name.endsWith("/") ? name.substring(0, name.length() - 1) : name);
      block(
          truncatedAscii(paxName, NAME_LEN),
          new byte[0],
          PAX_HEADER,
          0644,
          0,
          0,
          records.length,
          new byte[0],
          0,
          0);
      out.write(records);
      pad(records.length);
    }
    block(
        ustarName,
        ustarPrefix,
        type,
        mode,
        uid > MAX_OCTAL_7 ? 0 : uid,
        gid > MAX_OCTAL_7 ? 0 : gid,
        size > MAX_OCTAL_11 ? 0 : size,
        link,
        devMajor,
        devMinor);
  }

  /** Pads content of {@code size} bytes to the next block boundary. */
  void pad(long size) throws IOException {
    int rem = (int) (size % BLOCK);
    if (rem != 0) {
      out.write(new byte[BLOCK - rem]);
    }
  }

  /** Ends the archive with two zero blocks. */
  void finish() throws IOException {
    out.write(new byte[2 * BLOCK]);
  }

  private void block(
      byte[] name,
      byte[] prefix,
      char type,
      int mode,
      long uid,
      long gid,
      long size,
      byte[] link,
      int devMajor,
      int devMinor)
      throws IOException {
    byte[] h = header;
    Arrays.fill(h, (byte) 0);
    System.arraycopy(name, 0, h, 0, name.length);
    octal(h, 100, 8, mode);
    octal(h, 108, 8, uid);
    octal(h, 116, 8, gid);
    octal(h, 124, 12, size);
    octal(h, 136, 12, mtime > MAX_OCTAL_11 ? 0 : mtime);
    Arrays.fill(h, 148, 156, (byte) ' ');
    h[156] = (byte) type;
    System.arraycopy(link, 0, h, 157, link.length);
    System.arraycopy("ustar\0".getBytes(US_ASCII), 0, h, 257, 6);
    h[263] = '0';
    h[264] = '0';
    // uname (265) and gname (297) stay empty: ownership is numeric only.
    octal(h, 329, 8, devMajor);
    octal(h, 337, 8, devMinor);
    System.arraycopy(prefix, 0, h, 345, prefix.length);
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    // Six octal digits, NUL, space: the traditional checksum layout every reader accepts.
    octal(h, 148, 7, sum);
    h[155] = ' ';
    out.write(h);
  }

  /** Writes {@code value} as {@code len - 1} zero-padded octal digits and a NUL. */
  private static void octal(byte[] h, int off, int len, long value) {
    int digits = len - 1;
    for (int i = digits - 1; i >= 0; i--) {
      h[off + i] = (byte) ('0' + (value & 7));
      value >>>= 3;
    }
    if (value != 0) {
      throw new IllegalStateException("value does not fit " + digits + " octal digits");
    }
    h[off + digits] = 0;
  }

  /**
   * Where to split an ASCII name over 100 bytes into prefix and name: the last {@code /} that
   * leaves a prefix of at most 155 bytes and a non-empty name of at most 100 (the choice of Go's
   * archive/tar); -1 if there is none.
   */
  private static int splitPoint(byte[] name) {
    int length = name.length;
    if (length <= NAME_LEN) {
      return -1;
    } else if (length > PREFIX_LEN + 1) {
      length = PREFIX_LEN + 1;
    } else if (name[length - 1] == '/') {
      length--;
    }
    int i = length - 1;
    while (i >= 0 && name[i] != '/') {
      i--;
    }
    int nameLen = name.length - i - 1;
    if (i <= 0 || nameLen == 0 || nameLen > NAME_LEN || i > PREFIX_LEN) {
      return -1;
    }
    return i;
  }

  /**
   * PAX records {@code "<len> <key>=<value>\n"}, where len counts the whole record including its
   * own digits.
   */
  static byte[] paxRecords(Map<String, byte[]> records) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    for (Map.Entry<String, byte[]> r : records.entrySet()) {
      byte[] key = r.getKey().getBytes(UTF_8);
      int rest = 1 + key.length + 1 + r.getValue().length + 1; // ' ' key '=' value '\n'
      int len = rest + Integer.toString(rest).length();
      if (Integer.toString(len).length() != Integer.toString(rest).length()) {
        len = rest + Integer.toString(len).length();
      }
      buf.writeBytes(Integer.toString(len).getBytes(US_ASCII));
      buf.write(' ');
      buf.writeBytes(key);
      buf.write('=');
      buf.writeBytes(r.getValue());
      buf.write('\n');
    }
    return buf.toByteArray();
  }

  static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }

  /**
   * The name with non-ASCII characters replaced by {@code _}, cut to {@code max} bytes: a hint for
   * old readers.
   */
  private static byte[] truncatedAscii(String s, int max) {
    byte[] b = new byte[Math.min(s.length(), max)];
    for (int i = 0; i < b.length; i++) {
      char c = s.charAt(i);
      b[i] = c < 0x80 ? (byte) c : (byte) '_';
    }
    return b;
  }
}
