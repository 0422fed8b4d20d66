package dev.kiln.spi;

import dev.kiln.Target;
import java.util.Set;

/**
 * Creates image stores for target schemes, discovered with {@link java.util.ServiceLoader} from
 * {@code META-INF/services/dev.kiln.spi.ImageStoreProvider}. One passed to {@code
 * Kiln.builder().imageStores(…)} wins over a discovered one for the same scheme.
 */
public interface ImageStoreProvider {

  /** The target schemes handled, such as {@code oci-archive}. */
  Set<String> schemes();

  /**
   * A store for the target. Checks the target's syntax and options.
   *
   * @throws dev.kiln.InvalidTargetException when the target is malformed
   */
  ImageStore create(Target target);
}
