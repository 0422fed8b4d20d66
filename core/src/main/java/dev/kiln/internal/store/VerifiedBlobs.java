package dev.kiln.internal.store;

import dev.kiln.Digest;
import dev.kiln.internal.keys.StatIndex;
import dev.kiln.spi.FileStat;
import java.io.IOException;
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
 * Which store blobs were hashed and matched their digest, by the blob file's stat (size, mtime,
 * inode, ctime), so an unchanged blob is not read again on every bake. Kept in {@code stat/blobs},
 * one appended line per verification ({@code hex size mtime inode ctime}; the last line of a blob
 * wins, a malformed line is ignored).
 *
 * <p>Why this is sound: any write to a file, through any path or hard link, sets its ctime to the
 * current time, and no user-space call can set a ctime back. So a blob whose stat is the one it had
 * when it was hashed has not been written since, unless it was written within the same timestamp
 * tick as the hash was taken. Such a "racy" stat (the file changed less than {@link
 * StatIndex#settled one tick} before it was hashed) is never remembered: that blob is hashed again
 * next time, when it is no longer racy. A corrupt line cannot vouch for a bad blob, since it would
 * need the exact stat of the damaged file. What no stat-based check sees is damage below the file
 * system (a bit flipped on the disk); a blob read for publishing is always hashed, so such damage
 * is still caught before it leaves the store.
 */
final class VerifiedBlobs {
  private static final Logger log = LoggerFactory.getLogger(VerifiedBlobs.class);
  private static final String HEADER = "kiln-verified-blobs 1\n";

  private record Stat(long size, long mtimeNanos, long inode, long ctimeNanos) {
    static Stat of(FileStat s) {
      return new Stat(s.size(), s.mtimeNanos(), s.inode(), s.ctimeNanos());
    }
  }

  private final Path file;
  private final java.util.function.Supplier<Path> tempFile;
  private final Map<String, Stat> verified = new ConcurrentHashMap<>();

  VerifiedBlobs(Path file, java.util.function.Supplier<Path> tempFile) {
    this.file = file;
    this.tempFile = tempFile;
    load();
  }

  /**
   * Reads the file in one pass over its bytes: it has a line per blob the store ever verified, and
   * every process that opens the store reads it, so it costs what reading the bytes costs
   * (splitting it into strings and numbers first made opening a store of a few hundred images
   * slower by tens of milliseconds in a new JVM).
   */
  private void load() {
    byte[] b;
    try {
      b = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return;
    } catch (IOException | RuntimeException e) {
      log.warn("{} is unreadable ({}); store blobs will be hashed again", file, e.toString());
      return;
    }
    int lines = 0;
    int start = 0;
    while (start < b.length) {
      int end = start;
      while (end < b.length && b[end] != '\n') {
        end++;
      }
      lines++;
      parseLine(b, start, end);
      start = end + 1;
    }
    if (lines > 2 * verified.size() + 1000) {
      compact();
    }
  }

  /**
   * Remembers the line {@code b[start, end)} if it is {@code hex size mtime inode ctime} (64 hex
   * digits, then four decimal numbers, one space between each); ignores it otherwise (the blob is
   * hashed again).
   */
  private void parseLine(byte[] b, int start, int end) {
    if (end - start < 64 + 4 * 2) {
      return;
    }
    for (int i = start; i < start + 64; i++) {
      byte c = b[i];
      if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
        return;
      }
    }
    long[] f = new long[4];
    int i = start + 64;
    for (int n = 0; n < 4; n++) {
      if (i >= end || b[i] != ' ') {
        return;
      }
      i++;
      boolean negative = i < end && b[i] == '-';
      if (negative) {
        i++;
      }
      int digits = 0;
      long v = 0;
      while (i < end && b[i] >= '0' && b[i] <= '9') {
        int digit = b[i] - '0';
        if (v > (Long.MAX_VALUE - digit) / 10) {
          return; // not a long
        }
        v = v * 10 + digit;
        digits++;
        i++;
      }
      if (digits == 0) {
        return;
      }
      f[n] = negative ? -v : v;
    }
    if (i != end) {
      return;
    }
    String hex = new String(b, start, 64, StandardCharsets.US_ASCII);
    verified.put(hex, new Stat(f[0], f[1], f[2], f[3]));
  }

  /**
   * True when {@code blob} (the file of {@code digest}) has the stat it had when it last hashed
   * right.
   */
  boolean known(Digest digest, FileStat stat) {
    Stat s = verified.get(digest.hex());
    return s != null && s.equals(Stat.of(stat));
  }

  /**
   * Hashes {@code blob} unless its stat says it was verified before; remembers a match (unless its
   * stat is racy). Returns whether the content matches {@code digest}.
   */
  boolean check(Digest digest, Path blob) throws IOException {
    return check(digest, blob, () -> StatIndex.hash(blob).equals(digest.hex()));
  }

  /**
   * The same for any check of a file's content, remembered under {@code id}: true without reading
   * the file when its stat is the one it had when it last passed, else the check's answer (a pass
   * remembered unless the stat is racy).
   */
  boolean check(Digest id, Path file, dev.kiln.spi.OutputChecks.Check check) throws IOException {
    FileStat before = FileStat.lstat(file);
    if (known(id, before)) {
      return true;
    }
    long now = System.currentTimeMillis() * 1_000_000L;
    boolean ok = check.holds();
    if (!ok) {
      verified.remove(id.hex());
      return false;
    }
    FileStat after = FileStat.lstat(file);
    if (Stat.of(after).equals(Stat.of(before)) && StatIndex.settled(after, now)) {
      remember(id, after);
    }
    return true;
  }

  /** Forgets a blob (evicted). */
  void forget(Digest digest) {
    verified.remove(digest.hex());
  }

  private void remember(Digest digest, FileStat s) {
    Stat stat = Stat.of(s);
    if (stat.equals(verified.put(digest.hex(), stat))) {
      return;
    }
    String line =
        digest.hex()
            + " "
            + s.size()
            + " "
            + s.mtimeNanos()
            + " "
            + s.inode()
            + " "
            + s.ctimeNanos()
            + "\n";
    try {
      if (!Files.exists(file)) {
        Files.writeString(
            file,
            HEADER,
            StandardCharsets.UTF_8,
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
      }
      // one short append per line: concurrent processes interleave whole lines; a torn one is
      // ignored when read
      Files.writeString(
          file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      log.debug("could not remember verified blob {}: {}", digest, e.toString());
    }
  }

  /**
   * Rewrites the file with one line per blob (the latest); lines appended meanwhile by others may
   * be lost, harmlessly.
   */
  private void compact() {
    StringBuilder sb = new StringBuilder(HEADER);
    verified.forEach(
        (hex, s) ->
            sb.append(hex)
                .append(' ')
                .append(s.size())
                .append(' ')
                .append(s.mtimeNanos())
                .append(' ')
                .append(s.inode())
                .append(' ')
                .append(s.ctimeNanos())
                .append('\n'));
    try {
      Path tmp = tempFile.get();
      Files.writeString(tmp, sb, StandardCharsets.UTF_8);
      Files.move(
          tmp,
          file,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      log.debug("could not compact {}: {}", file, e.toString());
    }
  }
}
