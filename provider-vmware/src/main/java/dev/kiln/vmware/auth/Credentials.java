package dev.kiln.vmware.auth;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.Map;

/**
 * A vSphere user name and password. {@link #toString()} never shows the password.
 *
 * <p>Immutable and thread-safe.
 */
public final class Credentials {
  /** The environment variable {@link #fromEnvironment()} reads the user name from. */
  public static final String USER_VARIABLE = "KILN_VSPHERE_USER";

  /** The environment variable {@link #fromEnvironment()} reads the password from. */
  public static final String PASSWORD_VARIABLE = "KILN_VSPHERE_PASSWORD";

  private final String user;
  private final String password;

  private Credentials(String user, String password) {
    this.user = user;
    this.password = password;
  }

  /** Credentials given in code. */
  public static Credentials of(String user, String password) {
    checkArgument(user != null && !user.isEmpty(), "vSphere user name must not be empty");
    checkArgument(password != null && !password.isEmpty(), "vSphere password must not be empty");
    return new Credentials(user, password);
  }

  /**
   * Credentials from {@code KILN_VSPHERE_USER} and {@code KILN_VSPHERE_PASSWORD}.
   *
   * @throws IllegalStateException naming the missing variable
   */
  public static Credentials fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  static Credentials fromEnvironment(Map<String, String> env) {
    String user = env.get(USER_VARIABLE);
    String password = env.get(PASSWORD_VARIABLE);
    if (user == null || user.isEmpty() || password == null || password.isEmpty()) {
      throw new IllegalStateException(
          "no vSphere credentials: set "
              + USER_VARIABLE
              + " and "
              + PASSWORD_VARIABLE
              + " (missing: "
              + (user == null || user.isEmpty() ? USER_VARIABLE : PASSWORD_VARIABLE)
              + "), or pass Credentials.of(user, password) in code");
    }
    return new Credentials(user, password);
  }

  /** The user name. */
  public String user() {
    return user;
  }

  /** The password. */
  public String password() {
    return password;
  }

  @Override
  public String toString() {
    return "Credentials{user=" + user + ", password=****}";
  }
}
