package dev.kiln.spi;

import java.net.URI;
import java.util.Set;

/**
 * Creates remote caches for URI schemes ({@code docker://HOST/REPO}, {@code s3://BUCKET/PREFIX}),
 * discovered with {@link java.util.ServiceLoader} from {@code
 * META-INF/services/dev.kiln.spi.RemoteCacheProvider}.
 */
public interface RemoteCacheProvider {

  /** The URI schemes handled, such as {@code s3}. */
  Set<String> schemes();

  /**
   * A cache for the URI. Checks its syntax and options; does not contact the remote (a remote that
   * is down must not stop a Kiln from being built: bakes fall back to provisioning locally).
   *
   * @throws IllegalArgumentException when the URI is malformed
   */
  RemoteCache create(URI uri);
}
