package dev.kiln.docker;

import dev.kiln.Digest;
import dev.kiln.InvalidTargetException;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A registry image reference as {@code docker://} targets and bases write it, without the scheme:
 * {@code HOST[:PORT]/REPO[:TAG][@sha256:HEX]}. As Docker does, a first component without a dot or a
 * colon that is not {@code localhost} names a Docker Hub repository ({@code debian} is {@code
 * docker.io/library/debian}). Immutable.
 */
record ImageReference(String registry, String repository, String tag, Digest digest) {
  static final String DOCKER_HUB = "docker.io";
  private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  private static final Pattern HOST =
      Pattern.compile("[A-Za-z0-9.-]+(:[0-9]{1,5})?|\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?");

  static ImageReference parse(String ref) {
    String s = ref;
    if (s.startsWith("docker://")) {
      s = s.substring("docker://".length());
    }
    int q = s.indexOf('?');
    if (q >= 0) {
      s = s.substring(0, q);
    }
    if (s.isEmpty()) {
      throw bad(ref, "it is empty");
    }
    Digest digest = null;
    int at = s.indexOf('@');
    if (at >= 0) {
      try {
        digest = Digest.parse(s.substring(at + 1));
      } catch (IllegalArgumentException e) {
        throw bad(ref, "'" + s.substring(at + 1) + "' is not a sha256:<hex> digest");
      }
      s = s.substring(0, at);
    }
    String registry;
    String rest;
    int slash = s.indexOf('/');
    String first = slash < 0 ? "" : s.substring(0, slash);
    if (slash > 0
        && (first.contains(".")
            || first.contains(":")
            || first.equals("localhost")
            || first.startsWith("["))) {
      registry = first;
      rest = s.substring(slash + 1);
    } else {
      registry = DOCKER_HUB;
      rest = s;
    }
    if (!HOST.matcher(registry).matches()) {
      throw bad(ref, "'" + registry + "' is not a host[:port]");
    }
    String tag = null;
    int colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
      if (!TAG.matcher(tag).matches()) {
        throw bad(ref, "'" + tag + "' is not a valid tag");
      }
    }
    if (registry.equals(DOCKER_HUB) && !rest.contains("/")) {
      rest = "library/" + rest;
    }
    for (String c : rest.split("/", -1)) {
      if (!COMPONENT.matcher(c).matches()) {
        throw bad(
            ref,
            "repository '"
                + rest
                + "' must be lowercase path components of letters, digits and . _ -");
      }
    }
    return new ImageReference(registry.toLowerCase(Locale.ROOT), rest, tag, digest);
  }

  private static InvalidTargetException bad(String ref, String why) {
    return new InvalidTargetException(
        "'"
            + ref
            + "' is not an image reference (expected docker://HOST[:PORT]/REPO:TAG or @sha256:…): "
            + why);
  }

  /** The host the registry API answers on ({@code registry-1.docker.io} for Docker Hub). */
  String apiHost() {
    return registry.equals(DOCKER_HUB) ? "registry-1.docker.io" : registry;
  }

  /** Whether the registry is on this machine, where Docker, too, uses plain HTTP by default. */
  boolean isLoopback() {
    String host = registry.replaceFirst(":[0-9]+$", "");
    return host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]");
  }

  /**
   * The tag or digest to address the manifest by: the digest if pinned, else the tag ({@code
   * latest} if none).
   */
  String manifestReference() {
    return digest != null ? digest.toString() : tagOrLatest();
  }

  String tagOrLatest() {
    return tag != null ? tag : "latest";
  }

  Optional<Digest> pinned() {
    return Optional.ofNullable(digest);
  }

  @Override
  public String toString() {
    return registry
        + "/"
        + repository
        + (tag != null ? ":" + tag : "")
        + (digest != null ? "@" + digest : "");
  }
}
