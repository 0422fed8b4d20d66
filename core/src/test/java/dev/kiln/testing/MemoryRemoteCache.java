package dev.kiln.testing;

import dev.kiln.Digest;
import dev.kiln.spi.RemoteCache;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;

/**
 * A remote cache in memory, shared by the "machines" of a test, that can be made to fail, hang or
 * serve wrong blobs. Counts every call. Thread-safe.
 */
public final class MemoryRemoteCache implements RemoteCache {
  /** How the fake behaves from now on. */
  public enum Behaviour {
    OK,
    /** Every call fails as a refused connection would. */
    DOWN,
    /** Every call blocks until interrupted (a remote that accepts and never answers). */
    HANG
  }

  public final Map<Digest, byte[]> blobs = new ConcurrentHashMap<>();
  public final Map<String, byte[]> entries = new ConcurrentHashMap<>();
  public final AtomicInteger calls = new AtomicInteger();
  public final AtomicInteger reads = new AtomicInteger();
  public final AtomicInteger writes = new AtomicInteger();
  public final AtomicInteger interrupted = new AtomicInteger();
  private volatile Behaviour behaviour = Behaviour.OK;

  public MemoryRemoteCache behave(Behaviour b) {
    this.behaviour = b;
    return this;
  }

  private void enter() throws IOException {
    calls.incrementAndGet();
    switch (behaviour) {
      case DOWN -> throw new ConnectException("Connection refused (test remote is down)");
      case HANG -> {
        try {
          Thread.sleep(Long.MAX_VALUE);
        } catch (InterruptedException e) {
          interrupted.incrementAndGet();
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("interrupted");
        }
      }
      default -> {}
    }
  }

  @Override
  public String describe() {
    return "memory://test";
  }

  @Override
  public boolean hasBlob(Digest digest) throws IOException {
    enter();
    reads.incrementAndGet();
    return blobs.containsKey(digest);
  }

  @Override
  public void fetchBlob(Digest digest, Path dest, LongConsumer progress) throws IOException {
    enter();
    reads.incrementAndGet();
    byte[] b = blobs.get(digest);
    if (b == null) {
      throw new FileNotFoundException(digest.toString());
    }
    Files.write(dest, b);
    progress.accept(b.length);
  }

  @Override
  public long pushBlob(Digest digest, long size, String mediaType, Path file, LongConsumer progress)
      throws IOException {
    enter();
    writes.incrementAndGet();
    if (blobs.containsKey(digest)) {
      return 0;
    }
    byte[] b = Files.readAllBytes(file);
    blobs.put(digest, b);
    progress.accept(b.length);
    return b.length;
  }

  @Override
  public Optional<byte[]> getEntry(String namespace, String key) throws IOException {
    enter();
    reads.incrementAndGet();
    return Optional.ofNullable(entries.get(namespace + "/" + key));
  }

  @Override
  public void putEntry(String namespace, String key, byte[] json, Optional<BlobRef> blob)
      throws IOException {
    enter();
    writes.incrementAndGet();
    if (blob.isPresent() && !blobs.containsKey(blob.get().digest())) {
      throw new IOException(
          "entry " + key + " names blob " + blob.get().digest() + " which was not pushed");
    }
    entries.put(namespace + "/" + key, json.clone());
  }
}
