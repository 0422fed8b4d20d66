package dev.kiln.spi;

import java.util.List;

/**
 * Supplies provisioners, discovered with {@link java.util.ServiceLoader} from {@code
 * META-INF/services/dev.kiln.spi.ProvisionerProvider}. A provisioner passed to {@code
 * Kiln.builder().provisioner(…)} wins over a discovered one for the same kind.
 */
public interface ProvisionerProvider {

  /** The provisioners this module offers. */
  List<Provisioner> provisioners();
}
