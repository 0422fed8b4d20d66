package dev.kiln.internal.keys;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import dev.kiln.spi.FileStat;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remembers the SHA-256 of files by (path, size, mtime, inode, ctime), as git's index does, so that
 * a file whose stat is unchanged is not read again. Persisted as a text file, merged under the
 * store's lock so that concurrent processes never lose each other's entries. Each line carries a
 * CRC-32 of itself: a damaged line is dropped (its file is hashed again) rather than trusted.
 * Thread-safe.
 */
public final class StatIndex {
  private static final Logger log = LoggerFactory.getLogger(StatIndex.class);
  private static final int BUFFER = 1 << 17;
  private static final String HEADER = "kiln-stat-index 2";

  /** The stat of a file and its content digest. */
  record Entry(long size, long mtimeNanos, long inode, long ctimeNanos, String hex) {}

  /** A file's digest and whether it had to be read. */
  public record Result(Digest digest, boolean read, long bytesRead) {}

  private final Map<String, Entry> entries;
  private final Map<String, Entry> added = new ConcurrentHashMap<>();

  /** Paths forgotten in this process: dropped from the file too when it is saved. */
  private final java.util.Set<String> removed = ConcurrentHashMap.newKeySet();

  private StatIndex(int expected) {
    entries = new ConcurrentHashMap<>(expected);
  }

  /** Loads an index file, or starts empty if there is none or it is unreadable. */
  public static StatIndex load(Path file) {
    long size;
    try {
      size = Files.size(file);
    } catch (IOException e) {
      size = 0;
    }
    // sized for the file's lines (about 150 bytes each), so loading never rehashes
    StatIndex idx = new StatIndex((int) Math.min(size / 100 + 16, 1 << 24));
    idx.readInto(file, idx.entries);
    return idx;
  }

  /**
   * The digest of a regular file, from the index when its stat is unchanged, else by reading it.
   */
  public Result digest(Path file) throws IOException {
    Path abs = file.toAbsolutePath().normalize();
    return digest(abs, FileStat.lstat(abs));
  }

  /** The same for a file just stat-ed; {@code abs} is absolute and normalised. */
  public Result digest(Path abs, FileStat stat) throws IOException {
    if (stat.type() != FileStat.Type.FILE) {
      throw new IOException("not a regular file: " + abs);
    }
    String key = abs.toString();
    Entry e = entries.get(key);
    if (e != null
        && e.size == stat.size()
        && e.mtimeNanos == stat.mtimeNanos()
        && e.inode == stat.inode()
        && e.ctimeNanos == stat.ctimeNanos()) {
      return new Result(new Digest(e.hex), false, 0);
    }
    long now = System.currentTimeMillis() * 1_000_000L;
    String hex = hash(abs);
    // remembered only if the file still has the stat it was hashed under: a file changed while (or
    // just before) it
    // was read must not leave its new content's digest under its old stat; nor if it changed less
    // than one
    // timestamp tick before it was read, since a write in that same tick would leave the stat as it
    // is
    if (key.indexOf('\n') < 0 && unchanged(abs, stat) && settled(stat, now)) {
      Entry fresh = new Entry(stat.size(), stat.mtimeNanos(), stat.inode(), stat.ctimeNanos(), hex);
      entries.put(key, fresh);
      added.put(key, fresh);
      removed.remove(key);
    }
    return new Result(new Digest(hex), true, stat.size());
  }

  /**
   * Whether a stat taken at {@code nowNanos} can still be the same after a later write: not while
   * the file's last change is less than one timestamp tick old. The kernel stamps files from a
   * clock that advances in ticks of a few milliseconds; file systems that keep whole seconds show
   * it as a zero fraction. A stat that is not settled is never remembered, so the file is read
   * again next time, once it is.
   */
  public static boolean settled(FileStat s, long nowNanos) {
    boolean wholeSeconds =
        s.ctimeNanos() % 1_000_000_000L == 0 && s.mtimeNanos() % 1_000_000_000L == 0;
    long tick = wholeSeconds ? 2_000_000_000L : 50_000_000L;
    return nowNanos - s.ctimeNanos()
        >= tick; // every write, and every change of mtime, sets ctime to the clock
  }

  private static boolean unchanged(Path abs, FileStat before) {
    try {
      return FileStat.lstat(abs).equals(before);
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Forgets a file: its content did not match the digest this index gave for it (see {@code
   * InputChangedException}), so the next request reads it, in this process and, once saved, in
   * others.
   */
  public void forget(Path file) {
    String key = file.toAbsolutePath().normalize().toString();
    entries.remove(key);
    added.remove(key);
    removed.add(key);
  }

  /** Reads a whole file and returns its SHA-256 hex. */
  public static String hash(Path file) throws IOException {
    Hasher h = Hashing.sha256().newHasher();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
      while (ch.read(buf) >= 0) {
        buf.flip();
        h.putBytes(buf);
        buf.clear();
      }
    }
    return h.hash().toString();
  }

  /** Hashes a stream to its end. */
  public static Digest hash(InputStream in) throws IOException {
    Hasher h = Hashing.sha256().newHasher();
    byte[] buf = new byte[BUFFER];
    int n;
    while ((n = in.read(buf)) > 0) {
      h.putBytes(buf, 0, n);
    }
    return new Digest(h.hash().toString());
  }

  /**
   * Writes the entries learnt in this process into {@code file}, merged with what other processes
   * wrote since this index was loaded. The caller holds the store's lock for the file.
   */
  public void save(Path file, java.util.function.Function<Path, Path> tempFile) throws IOException {
    if (added.isEmpty() && removed.isEmpty()) {
      return;
    }
    Map<String, Entry> merged = new java.util.HashMap<>();
    readInto(file, merged);
    merged.keySet().removeAll(removed);
    merged.putAll(added);
    Path tmp = tempFile.apply(file);
    try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      w.write(HEADER + "\n");
      for (Map.Entry<String, Entry> me : merged.entrySet()) {
        Entry e = me.getValue();
        String line =
            e.size
                + " "
                + e.mtimeNanos
                + " "
                + e.inode
                + " "
                + e.ctimeNanos
                + " "
                + e.hex
                + " "
                + me.getKey();
        w.write(crc(line) + " " + line + "\n");
      }
    }
    Files.move(
        tmp,
        file,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    added.clear();
    removed.clear();
  }

  private static String crc(String line) {
    java.util.zip.CRC32 c = new java.util.zip.CRC32();
    c.update(line.getBytes(StandardCharsets.UTF_8));
    // eight hex digits, zero-padded (String.format costs more than the CRC: the index is read on
    // every open)
    return Long.toHexString(c.getValue() | 0x1_0000_0000L).substring(1);
  }

  /**
   * One line: {@code crc size mtime inode ctime hex path}; a malformed line, or one whose CRC does
   * not match, is skipped (its file is hashed again).
   */
  private static void parse(String checked, Map<String, Entry> into) {
    if (checked.length() < 10
        || checked.charAt(8) != ' '
        || !checked.substring(0, 8).equals(crc(checked.substring(9)))) {
      return;
    }
    String line = checked.substring(9);
    int a = line.indexOf(' ');
    int b = line.indexOf(' ', a + 1);
    int c = line.indexOf(' ', b + 1);
    int d = line.indexOf(' ', c + 1);
    int e = d < 0 ? -1 : line.indexOf(' ', d + 1);
    if (a <= 0 || b < 0 || c < 0 || d < 0 || e - d - 1 != 64 || e + 1 >= line.length()) {
      return;
    }
    try {
      into.put(
          line.substring(e + 1),
          new Entry(
              Long.parseLong(line, 0, a, 10),
              Long.parseLong(line, a + 1, b, 10),
              Long.parseLong(line, b + 1, c, 10),
              Long.parseLong(line, c + 1, d, 10),
              line.substring(d + 1, e)));
    } catch (NumberFormatException ex) {
      // skipped
    }
  }

  private void readInto(Path file, Map<String, Entry> into) {
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String header = r.readLine();
      if (!HEADER.equals(header)) {
        return;
      }
      String line;
      while ((line = r.readLine()) != null) {
        parse(line, into);
      }
    } catch (NoSuchFileException e) {
      // first use
    } catch (IOException | RuntimeException e) {
      log.warn("stat index {} is unreadable ({}); files will be hashed again", file, e.toString());
    }
  }
}
