package dev.kiln.s3;

import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RemoteCacheProvider;
import java.net.URI;
import java.util.Set;

/**
 * The {@code s3://BUCKET/PREFIX} remote cache ({@link S3RemoteCache}), found by {@link
 * java.util.ServiceLoader}.
 */
public final class S3RemoteCaches implements RemoteCacheProvider {
  @Override
  public Set<String> schemes() {
    return Set.of("s3");
  }

  @Override
  public RemoteCache create(URI uri) {
    return S3RemoteCache.of(uri);
  }
}
