package dev.kiln.docker;

import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RemoteCacheProvider;
import java.net.URI;
import java.util.Set;

/**
 * The {@code docker://HOST/REPO} remote cache ({@link RegistryRemoteCache}), found by {@link
 * java.util.ServiceLoader}.
 */
public final class DockerRemoteCaches implements RemoteCacheProvider {
  @Override
  public Set<String> schemes() {
    return Set.of("docker");
  }

  @Override
  public RemoteCache create(URI uri) {
    return RegistryRemoteCache.of(uri);
  }
}
