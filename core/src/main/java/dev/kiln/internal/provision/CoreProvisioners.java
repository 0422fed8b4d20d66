package dev.kiln.internal.provision;

import dev.kiln.spi.Provisioner;
import dev.kiln.spi.ProvisionerProvider;
import java.util.List;

/** The provisioners core brings: {@code files} and {@code tar}, pure Java, no daemon. */
public final class CoreProvisioners implements ProvisionerProvider {
  @Override
  public List<Provisioner> provisioners() {
    return List.of(new FilesProvisioner(), new TarProvisioner());
  }
}
