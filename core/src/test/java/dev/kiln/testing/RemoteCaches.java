package dev.kiln.testing;

import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RemoteCacheProvider;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.ServiceLoader;

/** Remote caches for tests: opened as Kiln opens them, filled as a bake fills them. */
public final class RemoteCaches {
  private RemoteCaches() {}

  /** The cache a URI names, found as Kiln finds it. */
  public static RemoteCache open(String uri) {
    String scheme = URI.create(uri).getScheme();
    for (RemoteCacheProvider p : ServiceLoader.load(RemoteCacheProvider.class)) {
      if (p.schemes().contains(scheme)) {
        return p.create(URI.create(uri));
      }
    }
    throw new AssertionError("no remote cache provider for " + uri);
  }

  /**
   * Pushes {@code blob} as a gzip layer (through a temp file in {@code dir}) and the entry {@code
   * keys/KEY} with the content {@code entry} naming it, as a bake does; returns the blob's digest.
   */
  public static Digest putWithBlob(
      RemoteCache cache, Path dir, String key, byte[] blob, byte[] entry) throws IOException {
    Path f = Files.write(Files.createTempFile(dir, "blob-", ""), blob);
    Digest d = Digest.of(blob);
    cache.pushBlob(d, blob.length, LayerRecord.GZIP_LAYER, f, n -> {});
    cache.putEntry(
        "keys",
        key,
        entry,
        Optional.of(new RemoteCache.BlobRef(d, blob.length, LayerRecord.GZIP_LAYER)));
    return d;
  }
}
