package dev.kiln.docker;

import dev.kiln.InvalidTargetException;
import dev.kiln.Target;
import dev.kiln.UriTarget;
import java.util.Objects;

/**
 * A registry target with options a target string cannot carry well: credentials given in code, and
 * plain HTTP.
 *
 * <pre>{@code
 * kiln.bake(build, RegistryTarget.of("registry.example:5000/team/app:1.4").credentials(user, token));
 * }</pre>
 *
 * <p>As a string, {@code docker://HOST[:PORT]/REPO:TAG} with {@code ?insecure=true} for plain HTTP.
 * Without credentials in code, those of {@code ~/.docker/config.json} are used (credential helpers,
 * then {@code auths}). Registries on {@code localhost} and {@code 127.0.0.0/8} are spoken to over
 * plain HTTP unless {@link #tls()} is set, as Docker treats them as insecure registries by default;
 * other registries only over HTTPS unless {@link #insecure()}. Immutable and thread-safe; {@link
 * #toString()} never shows the password.
 */
public final class RegistryTarget implements Target {
  /** Whether a registry is reached over HTTPS, plain HTTP, or by Docker's default for its host. */
  enum Transport {
    DEFAULT,
    HTTPS,
    HTTP
  }

  private final ImageReference reference;
  private final String user;
  private final String password;
  private final Transport transport;

  private RegistryTarget(
      ImageReference reference, String user, String password, Transport transport) {
    this.reference = reference;
    this.user = user;
    this.password = password;
    this.transport = transport;
  }

  /** A target for {@code HOST[:PORT]/REPO:TAG} (a leading {@code docker://} is allowed). */
  public static RegistryTarget of(String reference) {
    ImageReference r = ImageReference.parse(Objects.requireNonNull(reference, "reference"));
    if (r.digest() != null) {
      throw new InvalidTargetException(
          "'" + reference + "': a push target names a tag, not a digest");
    }
    return new RegistryTarget(r, null, null, Transport.DEFAULT);
  }

  /** Parses a target string: {@code docker://HOST[:PORT]/REPO:TAG[?insecure=true|tls=true]}. */
  static RegistryTarget parse(Target target) {
    if (target instanceof RegistryTarget t) {
      return t;
    }
    UriTarget u = target instanceof UriTarget ut ? ut : UriTarget.parse(target.toString());
    if (!u.hierarchical()) {
      throw new InvalidTargetException("'" + target + "': expected docker://HOST[:PORT]/REPO:TAG");
    }
    RegistryTarget t = of(u.reference());
    for (String k : u.params().keySet()) {
      if (!k.equals("insecure") && !k.equals("tls")) {
        throw new InvalidTargetException(
            "'" + target + "': unknown option '" + k + "' (known: insecure, tls)");
      }
    }
    if ("true".equals(u.param("insecure"))) {
      t = t.insecure();
    }
    if ("true".equals(u.param("tls"))) {
      t = t.tls();
    }
    return t;
  }

  /**
   * Whether a reference with these options ({@code insecure}, {@code tls}) is reached over plain
   * HTTP.
   */
  static boolean plainHttp(ImageReference ref, UriTarget u) {
    if ("true".equals(u.param("insecure"))) {
      return true;
    }
    return ref.isLoopback() && !"true".equals(u.param("tls"));
  }

  /**
   * Uses these credentials (Basic, or to obtain a Bearer token) instead of those in the Docker
   * configuration.
   */
  public RegistryTarget credentials(String user, String password) {
    if (user == null || user.isEmpty() || password == null) {
      throw new IllegalArgumentException("credentials need a user name and a password");
    }
    return new RegistryTarget(reference, user, password, transport);
  }

  /**
   * Speaks plain HTTP to the registry (never the default for a registry that is not on this
   * machine).
   */
  public RegistryTarget insecure() {
    return new RegistryTarget(reference, user, password, Transport.HTTP);
  }

  /** Speaks HTTPS even to a registry on this machine. */
  public RegistryTarget tls() {
    return new RegistryTarget(reference, user, password, Transport.HTTPS);
  }

  ImageReference reference() {
    return reference;
  }

  RegistryCredentials.Credentials credentials() {
    return user == null
        ? null
        : new RegistryCredentials.Credentials(user, password, "credentials given in code");
  }

  boolean plainHttp() {
    return transport == Transport.HTTP
        || (transport == Transport.DEFAULT && reference.isLoopback());
  }

  @Override
  public String scheme() {
    return "docker";
  }

  @Override
  public String toString() {
    String q =
        transport == Transport.HTTP
            ? "?insecure=true"
            : transport == Transport.HTTPS ? "?tls=true" : "";
    return "docker://" + reference + q;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RegistryTarget t
        && reference.equals(t.reference)
        && Objects.equals(user, t.user)
        && Objects.equals(password, t.password)
        && transport == t.transport;
  }

  @Override
  public int hashCode() {
    return Objects.hash(reference, user, password, transport);
  }
}
