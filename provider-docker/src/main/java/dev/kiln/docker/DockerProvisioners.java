package dev.kiln.docker;

import dev.kiln.spi.Provisioner;
import dev.kiln.spi.ProvisionerProvider;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The {@code run}, {@code packages} and {@code ansible} provisioners: each layer runs in a
 * container of the image below it on a Docker engine, and becomes exactly what the container
 * changed. Discovered through {@link java.util.ServiceLoader} with the defaults (the daemon at
 * {@code $DOCKER_HOST} or {@code unix:///var/run/docker.sock}, parent images kept); configure one
 * in code and pass its provisioners to {@code Kiln.builder().provisioner(…)}:
 *
 * <pre>{@code
 * DockerProvisioners docker = DockerProvisioners.builder().dockerHost(URI.create("unix:///run/user/1000/docker.sock")).build();
 * Kiln kiln = Kiln.builder().provisioner(docker.run()).provisioner(docker.packages()).provisioner(docker.ansible()).build();
 * }</pre>
 *
 * <p>The image below a layer is loaded into the daemon once per image digest and tagged {@code
 * kiln-parent/<digest hex>:latest}, so later layers on the same image start at once; a layer that
 * fails removes a parent image it loaded itself. Inputs and secrets are bind-mounted, so the daemon
 * must see the build machine's file system (a local daemon). Thread-safe.
 */
public final class DockerProvisioners implements ProvisionerProvider {
  private final URI dockerHost;
  private final boolean keepParentImages;
  private final Path ansiblePlaybook;
  private volatile List<Provisioner> provisioners;

  /** The provisioners with the defaults, for {@link java.util.ServiceLoader}. */
  public DockerProvisioners() {
    this(null, true, null);
  }

  private DockerProvisioners(URI dockerHost, boolean keepParentImages, Path ansiblePlaybook) {
    this.dockerHost = dockerHost;
    this.keepParentImages = keepParentImages;
    this.ansiblePlaybook = ansiblePlaybook;
  }

  /** A builder for provisioners with options. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public List<Provisioner> provisioners() {
    List<Provisioner> p = provisioners;
    if (p == null) {
      synchronized (this) {
        if (provisioners == null) {
          // the daemon is reached lazily: discovering this module must not need a running daemon
          ContainerRunner runner =
              new ContainerRunner(
                  com.google.common.base.Suppliers.memoize(
                      () -> dockerHost == null ? Daemon.fromEnvironment() : Daemon.at(dockerHost)),
                  keepParentImages);
          provisioners =
              List.of(
                  new RunProvisioner(runner),
                  new PackagesProvisioner(runner),
                  new AnsibleProvisioner(runner, new AnsiblePlaybook(ansiblePlaybook)));
        }
        p = provisioners;
      }
    }
    return p;
  }

  /** The provisioner of {@code run} layers. */
  public Provisioner run() {
    return provisioners().get(0);
  }

  /** The provisioner of {@code packages} layers. */
  public Provisioner packages() {
    return provisioners().get(1);
  }

  /** The provisioner of {@code ansible} layers. */
  public Provisioner ansible() {
    return provisioners().get(2);
  }

  /** Configures {@link DockerProvisioners}. Not thread-safe. */
  public static final class Builder {
    private URI dockerHost;
    private boolean keepParentImages = true;
    private Path ansiblePlaybook;

    private Builder() {}

    /**
     * The daemon to use, such as {@code unix:///var/run/docker.sock} or {@code tcp://host:2376}
     * (default {@code $DOCKER_HOST}).
     */
    public Builder dockerHost(URI dockerHost) {
      this.dockerHost = Objects.requireNonNull(dockerHost, "dockerHost");
      return this;
    }

    /**
     * Whether parent images stay in the daemon after the layers on them are provisioned (default
     * true: the next layer on the same image starts at once). With false, nothing Kiln loaded stays
     * behind.
     */
    public Builder keepParentImages(boolean keep) {
      this.keepParentImages = keep;
      return this;
    }

    /**
     * The {@code ansible-playbook} executable that {@code ansible} layers run (default: {@code
     * ansible-playbook} on {@code PATH}). Its directory's neighbours are not searched: the docker
     * CLI must still be on {@code PATH}.
     */
    public Builder ansiblePlaybook(Path executable) {
      this.ansiblePlaybook = Objects.requireNonNull(executable, "executable").toAbsolutePath();
      return this;
    }

    public DockerProvisioners build() {
      return new DockerProvisioners(dockerHost, keepParentImages, ansiblePlaybook);
    }
  }
}
