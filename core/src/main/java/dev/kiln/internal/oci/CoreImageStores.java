package dev.kiln.internal.oci;

import dev.kiln.InvalidTargetException;
import dev.kiln.Target;
import dev.kiln.UriTarget;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.TargetPaths;
import java.util.Set;

/**
 * The image stores core brings: {@code oci:DIR[:TAG]}, {@code oci-archive:FILE[:TAG]}, {@code
 * docker-archive:FILE[:NAME:TAG]}. Paths follow {@link TargetPaths}.
 */
public final class CoreImageStores implements ImageStoreProvider {

  @Override
  public Set<String> schemes() {
    return Set.of("oci", "oci-archive", "docker-archive");
  }

  @Override
  public ImageStore create(Target target) {
    UriTarget t = target instanceof UriTarget u ? u : UriTarget.parse(target.toString());
    String ref = t.reference();
    return switch (t.scheme()) {
      case "oci" -> {
        String[] pt = pathAndTag(ref, t);
        yield new OciLayoutStore(t.toString(), TargetPaths.directory(t.toString(), pt[0]), pt[1]);
      }
      case "oci-archive" -> {
        String[] pt = pathAndTag(ref, t);
        yield new ArchiveStore(
            t.toString(), TargetPaths.file(t.toString(), pt[0]), ArchiveStore.Format.OCI, pt[1]);
      }
      case "docker-archive" -> {
        int colon = ref.indexOf(':');
        String file = colon < 0 ? ref : ref.substring(0, colon);
        String name = colon < 0 ? "" : ref.substring(colon + 1);
        if (file.isEmpty()) {
          throw new InvalidTargetException(
              "docker-archive target '"
                  + t
                  + "' has no file: expected docker-archive:FILE[:NAME:TAG]");
        }
        if (!name.isEmpty()) {
          int slash = name.lastIndexOf('/');
          if (name.lastIndexOf(':') <= slash) {
            name = name + ":latest";
          }
          if (!name.matches("[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_.-]{1,128})?")) {
            throw new InvalidTargetException(
                "docker-archive target '" + t + "': '" + name + "' is not a valid NAME:TAG");
          }
        }
        yield new ArchiveStore(
            t.toString(), TargetPaths.file(t.toString(), file), ArchiveStore.Format.DOCKER, name);
      }
      default -> throw new InvalidTargetException("scheme " + t.scheme() + " is not a core store");
    };
  }

  /** Splits {@code PATH[:TAG]}; the tag defaults to {@code latest}. */
  static String[] pathAndTag(String ref, Target t) {
    int colon = ref.lastIndexOf(':');
    String path = ref;
    String tag = "latest";
    if (colon >= 0 && ref.indexOf('/', colon) < 0) {
      path = ref.substring(0, colon);
      tag = ref.substring(colon + 1);
    }
    if (path.isEmpty()) {
      throw new InvalidTargetException(
          "target '" + t + "' has no path: expected " + t.scheme() + ":PATH[:TAG]");
    }
    if (!tag.matches("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")) {
      throw new InvalidTargetException("target '" + t + "': '" + tag + "' is not a valid tag");
    }
    return new String[] {path, tag};
  }
}
