package dev.kiln.internal.store;

import com.google.common.io.ByteStreams;
import dev.kiln.Digest;
import dev.kiln.spi.CorruptBlobException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's {@code blobs/sha256/}: content-addressed files, each put in place whole, read back
 * checked against its digest, and replaced by a verified copy when it turns out damaged. Which
 * blobs matched their digest is remembered by their stat ({@link VerifiedBlobs}). Thread-safe.
 */
final class StoreBlobs {
  private static final Logger log = LoggerFactory.getLogger(StoreBlobs.class);

  private final Path root;
  private final Path dir;
  private final StoreSession session;
  private final VerifiedBlobs verified;
  private final StoreIndex index;
  private final BiConsumer<Digest, String> corrupt;

  /**
   * @param corrupt told of every damaged blob found here (and replaced)
   */
  StoreBlobs(
      Path root,
      StoreSession session,
      VerifiedBlobs verified,
      StoreIndex index,
      BiConsumer<Digest, String> corrupt) {
    this.root = root;
    this.dir = root.resolve("blobs").resolve("sha256");
    this.session = session;
    this.verified = verified;
    this.index = index;
    this.corrupt = corrupt;
  }

  Path path(Digest digest) {
    return dir.resolve(digest.hex());
  }

  boolean has(Digest digest) {
    return Files.isRegularFile(path(digest));
  }

  long size(Digest digest) throws IOException {
    return Files.size(path(digest));
  }

  /**
   * Moves a temp file whose content has {@code digest} into place. If the blob is already there and
   * matches its digest it is kept and the temp file deleted; if it does not (truncated, damaged),
   * the temp file replaces it.
   */
  void commit(Path tempFile, Digest digest) throws IOException {
    Path target = path(digest);
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)
          && Files.size(target) == Files.size(tempFile)
          && verified.check(digest, target)) {
        Files.deleteIfExists(tempFile);
        return;
      }
      replace(tempFile, digest);
      return;
    }
    StoreFiles.moveIntoPlace(tempFile, target);
  }

  /** Stores small content and returns its digest; a stored copy that differs is replaced. */
  Digest put(byte[] content) throws IOException {
    Digest d = Digest.of(content);
    Path p = path(d);
    byte[] there;
    try {
      there =
          Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && Files.size(p) == content.length
              ? Files.readAllBytes(p)
              : null;
    } catch (NoSuchFileException e) {
      there = null;
    }
    if (there == null || !Arrays.equals(there, content)) {
      Path tmp = session.newTempFile(".blob");
      Files.write(tmp, content);
      if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        replace(tmp, d);
      } else {
        StoreFiles.moveIntoPlace(tmp, p);
      }
    }
    return d;
  }

  /** Puts a verified temp file in place of a stored blob that does not match its digest. */
  private void replace(Path tempFile, Digest digest) throws IOException {
    log.warn("blob {} in the store at {} does not match its digest; replacing it", digest, root);
    corrupt.accept(
        digest,
        "blob "
            + digest
            + " in the store does not match its digest; it was replaced by a verified copy");
    Path target = path(digest);
    if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
      StoreFiles.deleteTree(target);
    }
    Files.move(
        tempFile, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    verified.forget(digest);
    index.invalidate();
  }

  /**
   * Checks a stored blob against its size and digest, hashing it unless its stat is the one it had
   * when it last matched. False when it is missing, of another size, or corrupt.
   */
  boolean matches(Digest digest, long size) throws IOException {
    Path p = path(digest);
    try {
      return Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
          && Files.size(p) == size
          && verified.check(digest, p);
    } catch (NoSuchFileException e) {
      return false;
    }
  }

  /**
   * Opens a blob; the stream checks the digest as it is read and throws at the end if it differs.
   */
  InputStream open(Digest digest) throws IOException {
    InputStream in;
    try {
      in = Files.newInputStream(path(digest));
    } catch (NoSuchFileException e) {
      throw new CorruptBlobException(
          digest, "blob " + digest + " is missing from the store at " + root);
    }
    return new VerifyingInputStream(in, digest);
  }

  /** A whole blob, checked against its digest as it is read. */
  byte[] read(Digest digest) throws IOException {
    try (InputStream in = open(digest)) {
      return in.readAllBytes();
    }
  }

  /** Hashes a blob completely; true when it matches its digest. */
  boolean verify(Digest digest) throws IOException {
    try (InputStream in = open(digest)) {
      ByteStreams.exhaust(in);
      return true;
    } catch (CorruptBlobException e) {
      return false;
    }
  }

  /** Deletes a blob and what this process knew of it (the keys that name it are the caller's). */
  void delete(Digest digest) throws IOException {
    Files.deleteIfExists(path(digest));
    verified.forget(digest);
    index.invalidate();
  }
}
