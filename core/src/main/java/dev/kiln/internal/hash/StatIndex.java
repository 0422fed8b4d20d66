package dev.kiln.internal.hash;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remembers the SHA-256 of files by (path, size, mtime, inode, ctime), as git's index does, so that a file whose
 * stat is unchanged is not read again. Persisted as a text file, merged under the store's lock so that concurrent
 * processes never lose each other's entries. Thread-safe.
 */
public final class StatIndex {
  private static final Logger log = LoggerFactory.getLogger(StatIndex.class);
  private static final int BUFFER = 1 << 17;

  /** The stat of a file and its content digest. */
  record Entry(long size, long mtimeNanos, long inode, long ctimeNanos, String hex) {}

  /** A file's digest and whether it had to be read. */
  public record Result(Digest digest, boolean read, long bytesRead) {}

  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  private final Map<String, Entry> added = new ConcurrentHashMap<>();

  /** Loads an index file, or starts empty if there is none or it is unreadable. */
  public static StatIndex load(Path file) {
    StatIndex idx = new StatIndex();
    idx.readInto(file, idx.entries);
    return idx;
  }

  /** The digest of a regular file, from the index when its stat is unchanged, else by reading it. */
  public Result digest(Path file) throws IOException {
    Path abs = file.toAbsolutePath().normalize();
    Map<String, Object> a = Files.readAttributes(abs, "unix:size,lastModifiedTime,ino,ctime,isRegularFile", LinkOption.NOFOLLOW_LINKS);
    if (!Boolean.TRUE.equals(a.get("isRegularFile"))) {
      throw new IOException("not a regular file: " + abs);
    }
    long size = (Long) a.get("size");
    long mtime = ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS);
    long ino = ((Number) a.get("ino")).longValue();
    long ctime = ((FileTime) a.get("ctime")).to(TimeUnit.NANOSECONDS);
    String key = abs.toString();
    Entry e = entries.get(key);
    if (e != null && e.size == size && e.mtimeNanos == mtime && e.inode == ino && e.ctimeNanos == ctime) {
      return new Result(new Digest(e.hex), false, 0);
    }
    String hex = hash(abs);
    if (key.indexOf('\n') < 0) {
      Entry fresh = new Entry(size, mtime, ino, ctime, hex);
      entries.put(key, fresh);
      added.put(key, fresh);
    }
    return new Result(new Digest(hex), true, size);
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
   * Writes the entries learnt in this process into {@code file}, merged with what other processes wrote since
   * this index was loaded. The caller holds the store's lock for the file.
   */
  public void save(Path file, java.util.function.Function<Path, Path> tempFile) throws IOException {
    if (added.isEmpty()) {
      return;
    }
    Map<String, Entry> merged = new java.util.HashMap<>();
    readInto(file, merged);
    merged.putAll(added);
    Path tmp = tempFile.apply(file);
    try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      w.write("kiln-stat-index 1\n");
      for (Map.Entry<String, Entry> me : merged.entrySet()) {
        Entry e = me.getValue();
        w.write(e.size + " " + e.mtimeNanos + " " + e.inode + " " + e.ctimeNanos + " " + e.hex + " " + me.getKey() + "\n");
      }
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    added.clear();
  }

  private void readInto(Path file, Map<String, Entry> into) {
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String header = r.readLine();
      if (!"kiln-stat-index 1".equals(header)) {
        return;
      }
      String line;
      while ((line = r.readLine()) != null) {
        String[] f = line.split(" ", 6);
        if (f.length == 6 && f[4].length() == 64) {
          into.put(f[5], new Entry(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]), f[4]));
        }
      }
    } catch (NoSuchFileException e) {
      // first use
    } catch (IOException | RuntimeException e) {
      log.warn("stat index {} is unreadable ({}); files will be hashed again", file, e.toString());
    }
  }
}
