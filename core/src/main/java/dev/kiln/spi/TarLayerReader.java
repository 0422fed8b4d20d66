package dev.kiln.spi;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.kiln.spi.LayerEntry.Type;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Reads a layer tarball, plain or gzip-compressed (detected by its magic bytes), as checked {@link
 * LayerEntry} values: the {@link LayerReader} contract.
 *
 * <p>Parsing is left to commons-compress, which knows the GNU, PAX, star and v7 variants. Around
 * it, this reader watches the raw bytes that go by: to verify every header checksum
 * (commons-compress does not), to tell a proper end of archive (a zero block) from a truncated one
 * (commons-compress just stops), and to take {@code SCHILY.xattr.*} values as raw bytes
 * (commons-compress decodes PAX values as UTF-8, which mangles binary attributes such as {@code
 * security.capability}). A gzip stream is read to its end so that its CRC is checked too.
 *
 * <p>Entries come in archive order. Paths are normalised ({@code ./a//b} becomes {@code a/b}) and
 * the root entry is skipped; {@code .wh.NAME} becomes a {@link Type#WHITEOUT} of {@code dir/NAME}
 * and {@code .wh..wh..opq} an {@link Type#OPAQUE_WHITEOUT} of {@code dir}; other {@code .wh..wh.*}
 * names and everything under a top-level one (aufs bookkeeping such as {@code .wh..wh.plnk/}) are
 * skipped, as Docker does, though hard links into them are not resolved. mtimes, user and group
 * names are dropped. Not thread-safe.
 */
final class TarLayerReader implements LayerReader {
  private static final int BLOCK = 512;
  private static final int BUFFER = 64 * 1024;
  private static final String WHITEOUT_PREFIX = ".wh.";
  private static final String META_PREFIX = ".wh..wh.";
  private static final String OPAQUE_NAME = ".wh..wh..opq";
  private static final String XATTR_PREFIX = "SCHILY.xattr.";

  private final String source;
  private final boolean gzip;
  private final RecordingInputStream tap;
  private final TarArchiveInputStream tar;

  /** Symlinks created so far in this layer, by path, to refuse entries written through them. */
  private final Map<String, String> symlinks = new HashMap<>();

  private final byte[] scratch = new byte[BUFFER];

  /**
   * Bumped on every {@link #next()}, so that a content stream of an earlier entry refuses to read.
   */
  private long generation;

  private boolean entryOpen;
  private boolean atEnd;
  private boolean closed;

  private TarLayerReader(InputStream raw, String source) throws IOException {
    this.source = source;
    BufferedInputStream in = new BufferedInputStream(raw, BUFFER);
    in.mark(4);
    byte[] magic = in.readNBytes(4);
    in.reset();
    InputStream decoded;
    if (magic.length >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b) {
      gzip = true;
      try {
        decoded = new GZIPInputStream(in, BUFFER);
      } catch (IOException e) {
        throw truncated(e);
      }
    } else if (magic.length == 4
        && (magic[0] & 0xff) == 0x28
        && (magic[1] & 0xff) == 0xb5
        && (magic[2] & 0xff) == 0x2f
        && (magic[3] & 0xff) == 0xfd) {
      throw new IOException("zstd-compressed layers are not supported yet: " + source);
    } else {
      gzip = false;
      decoded = in;
    }
    this.tap = new RecordingInputStream(decoded);
    this.tar = new TarArchiveInputStream(tap, UTF_8.name());
  }

  /** Opens a layer file, detecting gzip by its magic bytes. */
  public static TarLayerReader open(Path file) throws IOException {
    InputStream raw;
    try {
      raw = Files.newInputStream(file);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(file.toString(), null, "layer file not found");
    }
    return of(raw, file.toString());
  }

  /**
   * Reads a layer from a stream (plain or gzip tar), called "stream" in messages; closing the
   * reader closes it.
   */
  public static TarLayerReader of(InputStream in) throws IOException {
    return of(in, "stream");
  }

  /**
   * Reads a layer from a stream (plain or gzip tar); {@code source} names it in error messages.
   * Closing the reader closes the stream.
   */
  public static TarLayerReader of(InputStream in, String source) throws IOException {
    Objects.requireNonNull(in, "in");
    try {
      return new TarLayerReader(in, Objects.requireNonNull(source, "source"));
    } catch (IOException | RuntimeException e) {
      try {
        in.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  @Override
  public LayerEntry next() throws IOException {
    if (closed) {
      throw new IllegalStateException("layer reader is closed: " + source);
    }
    if (atEnd) {
      return null;
    }
    while (true) {
      skipRestOfEntry();
      generation++;
      long start = tap.position;
      TarArchiveEntry te;
      tap.startRecording();
      try {
        te = tar.getNextEntry();
      } catch (IOException | RuntimeException e) {
        throw truncated(e);
      } finally {
        tap.stopRecording();
      }
      HeaderChain chain = HeaderChain.parse(tap.recorded, tap.recordedLength, start, tap.overflow);
      if (chain.badChecksumAt >= 0) {
        throw new IOException(
            "truncated or not a tar archive: "
                + source
                + " (bad header checksum at offset "
                + chain.badChecksumAt
                + ")");
      }
      if (te == null) {
        if (!chain.endMarker && !tap.overflow) {
          throw new IOException(
              "truncated or not a tar archive: " + source + " (no end-of-archive marker)");
        }
        finishStream();
        atEnd = true;
        return null;
      }
      // Drained by us before the next header, even if skipped: commons-compress would otherwise
      // skip it while we
      // record, and the recording must hold headers only.
      entryOpen = true;
      LayerEntry entry = convert(te, chain.xattrs);
      if (entry != null) {
        return entry;
      }
    }
  }

  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      generation++;
      tar.close();
    }
  }

  /**
   * Reads what the caller left of the current entry, so a truncated entry is noticed even when
   * nobody reads it.
   */
  private void skipRestOfEntry() throws IOException {
    if (!entryOpen) {
      return;
    }
    entryOpen = false;
    try {
      while (tar.read(scratch, 0, scratch.length) >= 0) {
        // discard
      }
    } catch (IOException | RuntimeException e) {
      throw truncated(e);
    }
  }

  /**
   * Reads a gzip stream to its end, where GZIPInputStream checks the CRC and length of what it
   * inflated.
   */
  private void finishStream() throws IOException {
    if (!gzip) {
      return;
    }
    try {
      while (tap.read(scratch, 0, scratch.length) >= 0) {
        // discard what follows the end-of-archive blocks
      }
    } catch (IOException e) {
      throw truncated(e);
    }
  }

  private LayerEntry convert(TarArchiveEntry te, Map<String, byte[]> rawXattrs) throws IOException {
    String name = te.getName();
    String path = normalize(name);
    if (path == null) {
      return null; // the root directory itself
    }
    char flag = (char) te.getLinkFlag();
    if (flag == 'V') {
      return null; // a volume label, not a file
    }
    if (path.startsWith(META_PREFIX)) {
      return null; // aufs metadata (.wh..wh.plnk/, .wh..wh.aufs) at the top, never image content:
      // Docker skips it too
    }
    int slash = path.lastIndexOf('/');
    String base = path.substring(slash + 1);
    String parent = slash < 0 ? null : path.substring(0, slash);
    checkNotThroughSymlink(name, path);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base.equals(OPAQUE_NAME)) {
        if (parent == null) {
          throw new IOException(
              "tar entry '"
                  + name
                  + "' in "
                  + source
                  + " is an opaque whiteout of the image root, which is not supported");
        }
        return make(name, parent, Type.OPAQUE_WHITEOUT, 0, 0, 0, 0, "", 0, 0, Map.of(), null);
      }
      if (base.startsWith(META_PREFIX)) {
        return null; // other aufs bookkeeping names
      }
      String deleted = base.substring(WHITEOUT_PREFIX.length());
      if (deleted.isEmpty() || deleted.equals(".") || deleted.equals("..")) {
        throw new UnsafeLayerException(
            "tar entry '"
                + name
                + "' in "
                + source
                + " is a whiteout of '"
                + deleted
                + "', which would escape its directory");
      }
      return make(
          name,
          parent == null ? deleted : parent + "/" + deleted,
          Type.WHITEOUT,
          0,
          0,
          0,
          0,
          "",
          0,
          0,
          Map.of(),
          null);
    }

    Type type = typeOf(te, flag, name);
    int mode = te.getMode() & 07777;
    long uid = te.getLongUserId();
    long gid = te.getLongGroupId();
    if (uid < 0 || uid > Integer.MAX_VALUE || gid < 0 || gid > Integer.MAX_VALUE) {
      throw new IOException(
          "tar entry '"
              + name
              + "' in "
              + source
              + " has uid/gid "
              + uid
              + "/"
              + gid
              + ", out of the supported range");
    }
    String link = "";
    if (type == Type.SYMLINK) {
      link = te.getLinkName();
      symlinks.put(path, link);
    } else {
      // A directory or file replaces a symlink of the same name on extraction; what follows may use
      // the path.
      symlinks.remove(path);
    }
    if (type == Type.HARDLINK) {
      String target = normalize(te.getLinkName());
      if (target == null) {
        throw new UnsafeLayerException(
            "tar entry '" + name + "' in " + source + " is a hard link to the image root");
      }
      checkNotThroughSymlink(name + "' -> '" + te.getLinkName(), target);
      link = target;
    }
    Map<String, byte[]> xattrs = rawXattrs != null ? rawXattrs : decodedXattrs(te);
    if (type != Type.FILE) {
      return make(
          name,
          path,
          type,
          mode,
          (int) uid,
          (int) gid,
          0,
          link,
          te.getDevMajor(),
          te.getDevMinor(),
          xattrs,
          null);
    }
    long size = te.isSparse() ? te.getRealSize() : te.getSize();
    long gen = generation;
    boolean[] opened = {false};
    LayerEntry.Content content =
        () -> {
          if (gen != generation) {
            throw gone(path);
          }
          if (opened[0]) {
            throw new IOException(
                "content of tar entry '" + path + "' in " + source + " can be opened only once");
          }
          opened[0] = true;
          return new EntryContent(path, gen);
        };
    return make(name, path, type, mode, (int) uid, (int) gid, size, "", 0, 0, xattrs, content);
  }

  private Type typeOf(TarArchiveEntry te, char flag, String name) throws IOException {
    switch (flag) {
      case '1':
        return Type.HARDLINK;
      case '2':
        return Type.SYMLINK;
      case '3':
        return Type.CHAR_DEVICE;
      case '4':
        return Type.BLOCK_DEVICE;
      case '5':
      case 'D': // GNU dumpdir: a directory with a listing as content
        return Type.DIRECTORY;
      case '6':
        return Type.FIFO;
      case '0':
      case '\0':
      case '7': // contiguous file: a regular file everywhere but on a few old Unixes
      case 'S': // GNU sparse file
        // v7 archives mark directories only by the trailing slash
        return te.isDirectory() ? Type.DIRECTORY : Type.FILE;
      default:
        throw new IOException(
            "tar entry '" + name + "' in " + source + " has the unsupported type '" + flag + "'");
    }
  }

  private LayerEntry make(
      String name,
      String path,
      Type type,
      int mode,
      int uid,
      int gid,
      long size,
      String link,
      int devMajor,
      int devMinor,
      Map<String, byte[]> xattrs,
      LayerEntry.Content content)
      throws IOException {
    try {
      return new LayerEntry(
          path, type, mode, uid, gid, size, link, devMajor, devMinor, xattrs, content);
    } catch (IllegalArgumentException e) {
      throw new IOException(
          "invalid tar entry '" + name + "' in " + source + ": " + e.getMessage(), e);
    }
  }

  /**
   * Normalises a tar name; {@code null} for the root. Refuses {@code ..}: it could only be meant to
   * escape.
   */
  private String normalize(String name) throws UnsafeLayerException {
    StringBuilder sb = new StringBuilder(name.length());
    for (String seg : name.split("/")) {
      if (seg.isEmpty() || seg.equals(".")) {
        continue;
      }
      if (seg.equals("..")) {
        throw new UnsafeLayerException(
            "tar entry '" + name + "' in " + source + " would escape the image root");
      }
      if (sb.length() > 0) {
        sb.append('/');
      }
      sb.append(seg);
    }
    return sb.length() == 0 ? null : sb.toString();
  }

  private void checkNotThroughSymlink(String what, String path) throws UnsafeLayerException {
    if (symlinks.isEmpty()) {
      return;
    }
    int slash = -1;
    while ((slash = path.indexOf('/', slash + 1)) >= 0) {
      String ancestor = path.substring(0, slash);
      String target = symlinks.get(ancestor);
      if (target != null) {
        throw new UnsafeLayerException(
            "tar entry '"
                + what
                + "' in "
                + source
                + " writes through symlink '"
                + ancestor
                + "' -> '"
                + target
                + "' created earlier in the same layer");
      }
    }
  }

  /**
   * Fallback when the raw header was not captured: commons-compress's UTF-8 reading of the values.
   */
  private static Map<String, byte[]> decodedXattrs(TarArchiveEntry te) {
    Map<String, byte[]> xattrs = new TreeMap<>();
    for (Map.Entry<String, String> h : te.getExtraPaxHeaders().entrySet()) {
      if (h.getKey().startsWith(XATTR_PREFIX)) {
        xattrs.put(h.getKey().substring(XATTR_PREFIX.length()), h.getValue().getBytes(UTF_8));
      }
    }
    return xattrs;
  }

  private IOException gone(String path) {
    return new IOException(
        "content of tar entry '"
            + path
            + "' in "
            + source
            + " is gone: the reader has moved past it");
  }

  private IOException truncated(Exception cause) {
    if (cause instanceof UnsafeLayerException) {
      return (UnsafeLayerException) cause;
    }
    return new IOException(
        "truncated or not a tar archive: " + source + " (" + cause.getMessage() + ")", cause);
  }

  /**
   * The bytes of the current file entry, readable until the reader moves on; closing it does not
   * close the reader.
   */
  private final class EntryContent extends InputStream {
    private final String path;
    private final long gen;

    EntryContent(String path, long gen) {
      this.path = path;
      this.gen = gen;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (gen != generation) {
        throw gone(path);
      }
      try {
        return tar.read(b, off, len);
      } catch (IOException | RuntimeException e) {
        throw truncated(e);
      }
    }

    @Override
    public int available() throws IOException {
      return gen == generation ? tar.available() : 0;
    }
  }

  /**
   * Passes the decompressed tar through, counting bytes and, while asked to, keeping a copy of
   * them: the headers commons-compress consumes in one {@code getNextEntry()} call. Skips are
   * reads, so every byte is seen.
   */
  private static final class RecordingInputStream extends FilterInputStream {
    /** Headers of one entry are a few KiB; PAX headers with large xattrs stay well below this. */
    private static final int MAX_RECORDING = 8 << 20;

    long position;
    byte[] recorded = new byte[4 * BLOCK];
    int recordedLength;
    boolean recording;
    boolean overflow;
    private final byte[] skipBuffer = new byte[8192];

    RecordingInputStream(InputStream in) {
      super(in);
    }

    void startRecording() {
      recording = true;
      recordedLength = 0;
      overflow = false;
    }

    void stopRecording() {
      recording = false;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        seen(new byte[] {(byte) b}, 0, 1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) {
        seen(b, off, n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = 0;
      while (skipped < n) {
        int r = read(skipBuffer, 0, (int) Math.min(skipBuffer.length, n - skipped));
        if (r < 0) {
          break;
        }
        skipped += r;
      }
      return skipped;
    }

    @Override
    public boolean markSupported() {
      return false;
    }

    @Override
    public synchronized void mark(int readlimit) {
      // unsupported: commons-compress then reads the optional second zero block for good, which is
      // what we want
    }

    @Override
    public synchronized void reset() throws IOException {
      throw new IOException("mark/reset not supported");
    }

    private void seen(byte[] b, int off, int n) {
      position += n;
      if (!recording || overflow) {
        return;
      }
      if (recordedLength + n > MAX_RECORDING) {
        overflow = true;
        return;
      }
      if (recordedLength + n > recorded.length) {
        recorded = Arrays.copyOf(recorded, Math.max(recorded.length * 2, recordedLength + n));
      }
      System.arraycopy(b, off, recorded, recordedLength, n);
      recordedLength += n;
    }
  }

  /**
   * What the raw headers consumed for one entry say: end marker, checksum errors, raw extended
   * attributes.
   */
  private static final class HeaderChain {
    boolean endMarker;
    long badChecksumAt = -1;
    Map<String, byte[]> xattrs;

    /**
     * Walks the headers in {@code rec}, which starts at archive offset {@code start}; headers are
     * block-aligned.
     */
    static HeaderChain parse(byte[] rec, int len, long start, boolean overflow) {
      HeaderChain chain = new HeaderChain();
      if (overflow) {
        return chain;
      }
      long first = (start + BLOCK - 1) / BLOCK * BLOCK;
      long off = first - start;
      while (off + BLOCK <= len) {
        int h = (int) off;
        if (isZero(rec, h, BLOCK)) {
          chain.endMarker = true;
          break;
        }
        if (!checksumOk(rec, h)) {
          chain.badChecksumAt = start + off;
          break;
        }
        char type = (char) rec[h + 156];
        long size = number(rec, h + 124, 12);
        if (type == 'x' && size >= 0 && off + BLOCK + size <= len) {
          Map<String, byte[]> x = paxXattrs(rec, h + BLOCK, (int) (h + BLOCK + size));
          if (chain.xattrs == null) {
            chain.xattrs = x;
          } else {
            chain.xattrs.putAll(x);
          }
        }
        if (size < 0 || !(type == 'x' || type == 'g' || type == 'L' || type == 'K')) {
          break; // the entry's own header: what follows is content
        }
        off += BLOCK + (size + BLOCK - 1) / BLOCK * BLOCK;
      }
      return chain;
    }

    private static boolean isZero(byte[] b, int off, int len) {
      for (int i = off; i < off + len; i++) {
        if (b[i] != 0) {
          return false;
        }
      }
      return true;
    }

    /**
     * The sum of the header bytes with the checksum field as spaces; old tars summed signed bytes,
     * so accept both.
     */
    private static boolean checksumOk(byte[] h, int off) {
      long stored = number(h, off + 148, 8);
      long unsigned = 0;
      long signed = 0;
      for (int i = 0; i < BLOCK; i++) {
        byte b = (i >= 148 && i < 156) ? (byte) ' ' : h[off + i];
        unsigned += b & 0xff;
        signed += b;
      }
      return stored == unsigned || stored == signed;
    }

    /**
     * An octal field (leading spaces, NUL or space terminated) or a GNU base-256 one; -1 if
     * malformed.
     */
    private static long number(byte[] h, int off, int len) {
      if ((h[off] & 0x80) != 0) {
        long v = h[off] & 0x3f;
        for (int i = 1; i < len; i++) {
          if (v > (Long.MAX_VALUE >> 8)) {
            return -1;
          }
          v = (v << 8) | (h[off + i] & 0xff);
        }
        return (h[off] & 0x40) != 0 ? -1 : v;
      }
      int i = off;
      int end = off + len;
      while (i < end && (h[i] == ' ' || h[i] == 0)) {
        i++;
      }
      long v = 0;
      boolean any = false;
      for (; i < end && h[i] >= '0' && h[i] <= '7'; i++) {
        v = (v << 3) + (h[i] - '0');
        any = true;
      }
      for (; i < end; i++) {
        if (h[i] != ' ' && h[i] != 0) {
          return -1;
        }
      }
      return any ? v : 0;
    }

    /** The {@code SCHILY.xattr.*} records of PAX data, values as raw bytes. */
    private static Map<String, byte[]> paxXattrs(byte[] b, int from, int to) {
      Map<String, byte[]> xattrs = new TreeMap<>();
      int p = from;
      while (p < to) {
        int len = 0;
        int q = p;
        while (q < to && b[q] >= '0' && b[q] <= '9' && len < 100_000_000) {
          len = len * 10 + (b[q++] - '0');
        }
        if (q >= to || b[q] != ' ' || len <= 0 || p + len > to || b[p + len - 1] != '\n') {
          break; // malformed or padding: commons-compress has judged the record already
        }
        int keyStart = q + 1;
        int eq = keyStart;
        while (eq < p + len && b[eq] != '=') {
          eq++;
        }
        if (eq < p + len) {
          String key = new String(b, keyStart, eq - keyStart, UTF_8);
          if (key.startsWith(XATTR_PREFIX)) {
            xattrs.put(
                key.substring(XATTR_PREFIX.length()), Arrays.copyOfRange(b, eq + 1, p + len - 1));
          }
        }
        p += len;
      }
      return xattrs;
    }
  }
}
