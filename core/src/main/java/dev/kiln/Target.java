package dev.kiln;

/**
 * Where a baked image is published. Parse strings in the containers-image transport syntax with
 * {@link #parse} ({@code oci:DIR[:TAG]}, {@code oci-archive:FILE[:TAG]}, {@code
 * docker-archive:FILE[:NAME:TAG]}, {@code docker-daemon:NAME:TAG}, {@code docker://HOST/REPO:TAG},
 * {@code raw:FILE}, {@code ec2://REGION/NAME}, …); providers add typed targets for options a string
 * cannot carry well. Implementations are immutable.
 */
public interface Target {

  /** The scheme that selects the image store, such as {@code oci-archive}. */
  String scheme();

  /** The target as a string in transport syntax. */
  @Override
  String toString();

  /**
   * Parses {@code SCHEME:REFERENCE}. Only the syntax is checked here; the store for the scheme
   * checks the rest.
   *
   * @throws InvalidTargetException if there is no scheme
   */
  static Target parse(String target) {
    return UriTarget.parse(target);
  }
}
