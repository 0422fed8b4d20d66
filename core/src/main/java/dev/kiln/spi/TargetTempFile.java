package dev.kiln.spi;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A temp file beside a target's output, written and then renamed into place, that a later bake can
 * tell from a live writer's. It is named {@code PREFIX.kiln-tmp-UUID} and holds a file lock from
 * before its first byte until it is renamed or removed; the kernel releases the lock when its
 * process ends, {@code kill -9} included. {@link #sweep} removes the temp files of a prefix whose
 * lock is free: those of writers that are gone. A live writer's file, in this process or another,
 * is never touched.
 *
 * <p>A sweeper in another process may find a new file in the instant between its creation and its
 * lock; it then removes it, and the writer, which checks after locking that its file is still
 * there, starts over with a new name.
 */
public final class TargetTempFile implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TargetTempFile.class);
  static final String MARK = ".kiln-tmp-";

  /**
   * Names of the temp files this process is writing or probing. A file lock is per process, and
   * closing any channel of a file releases all of the process's locks on it, so this process never
   * opens a file it holds locked itself.
   */
  private static final Set<String> BUSY = ConcurrentHashMap.newKeySet();

  private final Path path;
  private final String name;
  private final FileChannel channel;
  private boolean moved;

  private TargetTempFile(Path path, String name, FileChannel channel) {
    this.path = path;
    this.name = name;
    this.channel = channel;
  }

  /**
   * Creates a new empty temp file {@code PREFIX.kiln-tmp-UUID} in {@code dir}, locked until {@link
   * #close}.
   */
  public static TargetTempFile create(Path dir, String prefix) throws IOException {
    for (int attempt = 1; ; attempt++) {
      String name = prefix + MARK + UUID.randomUUID();
      BUSY.add(name);
      Path p = dir.resolve(name);
      FileChannel ch = null;
      try {
        ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        ch.lock();
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
          return new TargetTempFile(p, name, ch);
        }
      } catch (IOException | RuntimeException e) {
        if (ch != null) {
          ch.close();
        }
        BUSY.remove(name);
        throw e;
      }
      // another process's sweep removed it before it was locked: the name is gone for good, take
      // another
      ch.close();
      BUSY.remove(name);
      if (attempt >= 8) {
        throw new IOException(
            "could not create a temp file in " + dir + ": it was removed each time");
      }
    }
  }

  public Path path() {
    return path;
  }

  /**
   * The file's channel, open for writing at any position; it stays this object's (never close it).
   */
  public FileChannel channel() {
    return channel;
  }

  /** A stream into the file; closing it flushes but keeps the file locked. */
  public OutputStream output() {
    return new FilterOutputStream(Channels.newOutputStream(channel)) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        flush();
      }
    };
  }

  /** Writes {@code content} as the whole file. */
  public void write(byte[] content) throws IOException {
    try (OutputStream out = output()) {
      out.write(content);
    }
  }

  /** Renames the file to {@code dest} (atomically, replacing it) while it is still locked. */
  public void moveTo(Path dest) throws IOException {
    Files.move(path, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    moved = true;
  }

  /** Removes the file unless it was moved into place, then releases its lock. */
  @Override
  public void close() throws IOException {
    try {
      if (!moved) {
        Files.deleteIfExists(path);
      }
    } finally {
      try {
        channel.close();
      } finally {
        BUSY.remove(name);
      }
    }
  }

  /**
   * Removes the temp files {@code PREFIX.kiln-tmp-*} in {@code dir} whose writers are gone (their
   * lock is free). Best effort: a file that cannot be probed is left for a later sweep.
   */
  public static void sweep(Path dir, String prefix) {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(dir, p -> p.getFileName().toString().startsWith(prefix + MARK))) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        if (!BUSY.add(name)) {
          continue; // this process writes it (or another thread probes it)
        }
        try (FileChannel ch =
            FileChannel.open(p, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
          FileLock fl = ch.tryLock();
          if (fl != null) {
            Files.deleteIfExists(p);
            log.debug("removed {}, left by a writer that is gone", p);
          }
        } catch (NoSuchFileException | OverlappingFileLockException e) {
          // gone already, or locked in this process
        } catch (IOException e) {
          log.debug("could not probe {}: {}", p, e.toString());
        } finally {
          BUSY.remove(name);
        }
      }
    } catch (IOException e) {
      log.debug("could not sweep {}: {}", dir, e.toString());
    }
  }
}
