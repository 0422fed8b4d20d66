package dev.kiln.docker;

import dev.kiln.InvalidTargetException;
import dev.kiln.Target;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import java.util.Set;

/**
 * The image stores of this module, discovered through {@link java.util.ServiceLoader}: {@code
 * docker-daemon:NAME:TAG} ({@link DockerDaemonStore}) and {@code docker://HOST[:PORT]/REPO:TAG}
 * ({@link RegistryStore}, also from a typed {@link RegistryTarget}). Thread-safe.
 */
public final class DockerImageStores implements ImageStoreProvider {

  @Override
  public Set<String> schemes() {
    return Set.of("docker-daemon", "docker");
  }

  @Override
  public ImageStore create(Target target) {
    return switch (target.scheme()) {
      case "docker-daemon" -> new DockerDaemonStore(target);
      case "docker" -> new RegistryStore(target);
      default ->
          throw new InvalidTargetException(
              "'" + target + "': scheme '" + target.scheme() + "' is not docker-daemon or docker");
    };
  }
}
