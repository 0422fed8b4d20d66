package dev.kiln.internal.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One process's temp area in the store's {@code tmp/}: the directory {@code tmp/<id>/}, locked
 * through {@code tmp/<id>.lock} while the process lives, and the sweep that removes the areas of
 * processes that are gone (their lock is free). Thread-safe.
 */
final class StoreSession implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StoreSession.class);

  /**
   * The session lock files of every store open in this JVM (a file lock belongs to the process, not
   * the store).
   */
  private static final Set<Path> LIVE_SESSIONS = ConcurrentHashMap.newKeySet();

  private final Path tmpRoot;
  private final Path dir;
  private final FileChannel lockChannel;
  private final FileLock lock;

  private StoreSession(Path tmpRoot, Path dir, FileChannel lockChannel, FileLock lock) {
    this.tmpRoot = tmpRoot;
    this.dir = dir;
    this.lockChannel = lockChannel;
    this.lock = lock;
  }

  /** Starts a new session in {@code tmpRoot}: its lock file locked, then its directory made. */
  static StoreSession start(Path tmpRoot) throws IOException {
    // the lock file is created and locked before the session's directory, and the session starts
    // over if a sweeper
    // removed the file in the instant between (it then sees a free lock): a sweeper never removes a
    // live session,
    // and a process killed at any point leaves a lock file that the next sweep finds
    FileChannel channel;
    FileLock lock;
    String id;
    while (true) {
      id = UUID.randomUUID().toString();
      Path lockFile = tmpRoot.resolve(id + ".lock");
      LIVE_SESSIONS.add(lockFile);
      channel = FileChannel.open(lockFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      lock = channel.lock();
      if (Files.exists(lockFile)) {
        break;
      }
      lock.release();
      channel.close();
      LIVE_SESSIONS.remove(lockFile);
    }
    return new StoreSession(tmpRoot, Files.createDirectories(tmpRoot.resolve(id)), channel, lock);
  }

  /** This session's directory. */
  Path dir() {
    return dir;
  }

  /**
   * Whether the session of {@code lockFile} is alive: one of this JVM, one whose lock another
   * process holds, or one whose lock file does not open (whether it lives is not known). A lock
   * file of this JVM is never opened (closing a channel of a file releases all of this process's
   * locks on it).
   */
  static boolean live(Path lockFile) {
    if (LIVE_SESSIONS.contains(lockFile)) {
      return true;
    }
    // opened for reading, with a shared lock: that needs no permission to write the file, which
    // another user's session does not give
    try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.READ)) {
      FileLock fl = ch.tryLock(0, Long.MAX_VALUE, true);
      if (fl == null) {
        return true;
      }
      fl.release();
      return false;
    } catch (OverlappingFileLockException e) {
      return true; // a sweeper of this JVM holds it for an instant: counted as alive
    } catch (NoSuchFileException e) {
      return false; // removed: the session ended
    } catch (IOException e) {
      return true; // it does not open (no permission): whether it lives is not known, so it does
    }
  }

  /** A new empty temp directory in this session. */
  Path newTempDirectory() throws IOException {
    return Files.createTempDirectory(dir, "d");
  }

  /** A new temp file path (not created) in this session. */
  Path newTempFile(String suffix) {
    return dir.resolve(UUID.randomUUID() + suffix);
  }

  /** Removes temp directories of processes that are gone (their lock is free). */
  void sweepStale() {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tmpRoot, "*.lock")) {
      for (Path lockFile : ds) {
        String name = lockFile.getFileName().toString();
        Path other = tmpRoot.resolve(name.substring(0, name.length() - ".lock".length()));
        if (other.equals(dir) || LIVE_SESSIONS.contains(lockFile)) {
          // this JVM's own session (of another LocalStore on this store): never open its lock file,
          // since closing
          // any channel of a file releases all of this process's locks on it, and another process
          // could then
          // sweep a live session
          continue;
        }
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
          FileLock fl = ch.tryLock();
          if (fl == null) {
            continue;
          }
          try {
            StoreFiles.deleteTree(other);
            Files.deleteIfExists(lockFile);
            log.debug("removed stale temp directory {}", other);
          } finally {
            fl.release();
          }
        } catch (OverlappingFileLockException | IOException e) {
          // held by this JVM or racing with another sweeper: leave it
        }
      }
    } catch (IOException e) {
      log.warn("could not sweep {}: {}", tmpRoot, e.toString());
    }
    // a session directory without its lock file: left by a version of Kiln that made the directory
    // first and was
    // killed before it made the lock (a session of this version always has its lock file first)
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(tmpRoot, p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))) {
      long old = System.currentTimeMillis() - TimeUnit.MINUTES.toMillis(10);
      for (Path other : ds) {
        if (!other.equals(dir)
            && !Files.exists(tmpRoot.resolve(other.getFileName() + ".lock"))
            && Files.getLastModifiedTime(other, LinkOption.NOFOLLOW_LINKS).toMillis() < old) {
          StoreFiles.deleteTree(other);
          log.debug("removed orphaned temp directory {}", other);
        }
      }
    } catch (IOException e) {
      log.debug("could not sweep orphaned directories of {}: {}", tmpRoot, e.toString());
    }
  }

  /** Removes this session's directory, then releases and removes its lock file. */
  @Override
  public void close() throws IOException {
    try {
      StoreFiles.deleteTree(dir);
    } finally {
      try {
        lock.release();
        lockChannel.close();
        Files.deleteIfExists(tmpRoot.resolve(dir.getFileName() + ".lock"));
      } finally {
        LIVE_SESSIONS.remove(tmpRoot.resolve(dir.getFileName() + ".lock"));
      }
    }
  }
}
