package dev.kiln.internal.store;

import dev.kiln.Digest;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.regex.Pattern;

/**
 * What this process's bakes use of the store, announced to the garbage collection of any process:
 * the lease file {@code tmp/<session>/leases}, one line per blob ({@code b <hex>}) or disk ({@code
 * d <key hex>}) a bake has touched, appended <em>before</em> the bake looks at the file, and
 * emptied when no bake of this store is running in the process any more.
 *
 * <p>Why a blob in use is never removed: an append happens under the shared side of {@code
 * locks/gc.lock}, and a collection reads the leases of every live session and deletes under the
 * exclusive side. So an append either comes before the collection's deletions, which then see it
 * and keep the blob, or after them, when the bake finds the blob (or the key entry naming it) gone
 * and writes it again. The shared lock is held for the append only. Thread-safe.
 */
final class StoreLeases {
  /**
   * One read-write lock per gc lock file in this JVM, with the shared file lock its readers hold.
   */
  private static final ConcurrentHashMap<Path, GcLock> GC_LOCKS = new ConcurrentHashMap<>();

  /** The length of a lease line without its newline: {@code b <hex>} or {@code d <hex>}. */
  private static final int LINE = 66;

  private static final Pattern LEASE = Pattern.compile("[bd] [0-9a-f]{64}");

  private final Path file;
  private final GcLock gcLock;
  private final Set<String> leased = ConcurrentHashMap.newKeySet();
  private int uses;

  StoreLeases(Path sessionDir, Path locksDir) {
    this.file = sessionDir.resolve("leases");
    this.gcLock = GC_LOCKS.computeIfAbsent(locksDir.resolve("gc.lock"), GcLock::new);
  }

  /** Announces that a bake uses this blob, unless it was announced since the last bake ended. */
  void blob(Digest digest) {
    lease("b " + digest.hex());
  }

  /** Announces that a bake uses the disk of this disk key. */
  void disk(Digest diskKey) {
    lease("d " + diskKey.hex());
  }

  private void lease(String line) {
    if (leased.contains(line)) {
      return;
    }
    synchronized (this) {
      if (!leased.add(line)) {
        return;
      }
      try (GcLock.Held h = gcLock.shared()) {
        Files.writeString(
            file,
            line + "\n",
            StandardCharsets.US_ASCII,
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
      } catch (IOException e) {
        // the session directory is gone (the store is closed): nothing can be collected from
        // under a closed store's bakes either
        leased.remove(line);
      }
    }
  }

  /** A bake (or a publication) starts: leases stay until the last one running ends. */
  synchronized void begin() {
    uses++;
  }

  /** A bake ends; when none is running any more, its leases are dropped. */
  synchronized void end() {
    if (--uses > 0) {
      return;
    }
    uses = 0;
    leased.clear();
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // kept leases only keep blobs longer
    }
  }

  /**
   * Takes the exclusive side of the gc lock: no bake of any process announces a lease meanwhile.
   */
  GcLock.Held exclusive() throws IOException {
    return gcLock.exclusive();
  }

  /**
   * The leases of every live session of the store whose temp root is {@code tmpRoot} (this one's
   * included). Read under {@link #exclusive}. A live session's lease file that does not read as
   * whole lease lines (cut short, garbled, unreadable) cannot say what its bakes use: then every
   * blob and disk counts as leased, and {@link Live#doubts()} names the file.
   */
  static Live live(Path tmpRoot) throws IOException {
    Live out = new Live();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tmpRoot, "*.lock")) {
      for (Path lockFile : ds) {
        if (!StoreSession.live(lockFile)) {
          continue;
        }
        String name = lockFile.getFileName().toString();
        read(
            tmpRoot.resolve(name.substring(0, name.length() - ".lock".length())).resolve("leases"),
            out);
      }
    }
    return out;
  }

  /**
   * Adds the leases of one live session's file to {@code out}, or, at the first thing in it that is
   * not a whole lease line, a doubt naming the file. Reads no more than a line's length past the
   * last good line, so a huge line costs nothing.
   */
  private static void read(Path file, Live out) {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
      byte[] line = new byte[LINE];
      int n = 0;
      long lineNo = 1;
      for (int c; (c = in.read()) >= 0; ) {
        if (c == '\n') {
          String l = new String(line, 0, n, StandardCharsets.ISO_8859_1);
          if (!LEASE.matcher(l).matches()) {
            out.doubt(file, "line " + lineNo + " is not a lease");
            return;
          }
          out.leases.add(l);
          n = 0;
          lineNo++;
        } else if (n == LINE) {
          out.doubt(file, "line " + lineNo + " is longer than a lease");
          return;
        } else {
          line[n++] = (byte) c;
        }
      }
      if (n > 0) {
        out.doubt(file, "its last line is cut short");
      }
    } catch (NoSuchFileException e) {
      // no bake running there
    } catch (IOException e) {
      out.doubt(file, "it does not read (" + e + ")");
    }
  }

  /**
   * What the live sessions lease: {@code b <hex>} and {@code d <hex>} lines, or, when a live
   * session's lease file does not read, everything.
   */
  static final class Live {
    private final Set<String> leases = new HashSet<>();
    private final List<String> doubts = new ArrayList<>();

    /**
     * Whether a running bake may use what {@code lease} ({@code b <hex>}, {@code d <hex>}) names.
     */
    boolean contains(String lease) {
      return !doubts.isEmpty() || leases.contains(lease);
    }

    /** Why what {@code lease} names stays, when it is {@link #contains contained}. */
    String why(String lease) {
      return leases.contains(lease)
          ? "in use by a running bake"
          : "maybe in use by a running bake: " + doubts.get(0);
    }

    /** Each live session's lease file that does not read, with what is wrong with it. */
    List<String> doubts() {
      return doubts;
    }

    private void doubt(Path file, String why) {
      doubts.add("the leases " + file + " of a live session do not read: " + why);
    }
  }

  /**
   * {@code locks/gc.lock}: shared by the lease appends of any number of threads and processes,
   * exclusive for a collection's deletions. A file lock belongs to the process and closing any
   * channel of the file releases all of them, so the threads of this JVM share one channel and one
   * shared lock, counted, behind a read-write lock of the JVM.
   */
  static final class GcLock {
    interface Held extends AutoCloseable {
      @Override
      void close() throws IOException;
    }

    private final Path path;
    private final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    private int readers;
    private FileChannel sharedChannel;
    private FileLock sharedLock;

    GcLock(Path path) {
      this.path = path;
    }

    Held shared() throws IOException {
      rw.readLock().lock();
      try {
        synchronized (this) {
          if (readers == 0) {
            FileChannel ch =
                FileChannel.open(
                    path,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            try {
              sharedLock = FileLocks.lock(ch, true);
            } catch (IOException | RuntimeException e) {
              ch.close();
              throw e;
            }
            sharedChannel = ch;
          }
          readers++;
        }
      } catch (IOException | RuntimeException e) {
        rw.readLock().unlock();
        throw e;
      }
      return () -> {
        try {
          synchronized (this) {
            if (--readers == 0) {
              try {
                sharedLock.release();
              } finally {
                sharedChannel.close();
                sharedChannel = null;
                sharedLock = null;
              }
            }
          }
        } finally {
          rw.readLock().unlock();
        }
      };
    }

    Held exclusive() throws IOException {
      rw.writeLock().lock();
      try {
        FileChannel ch =
            FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock fl;
        try {
          fl = FileLocks.lock(ch, false);
        } catch (IOException | RuntimeException e) {
          ch.close();
          throw e;
        }
        return () -> {
          try {
            fl.release();
            ch.close();
          } finally {
            rw.writeLock().unlock();
          }
        };
      } catch (IOException | RuntimeException e) {
        rw.writeLock().unlock();
        throw e;
      }
    }
  }
}
