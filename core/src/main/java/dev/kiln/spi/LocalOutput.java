package dev.kiln.spi;

import java.nio.file.Path;
import java.util.Objects;

/**
 * The local file or directory an image store writes, declared so that a bake can refuse, before it
 * writes anything, two targets that would overwrite each other: two formats in one file, two tags
 * of an archive that holds one, or two builds writing one place. Paths are compared after resolving
 * symlinks of the parts that exist.
 *
 * @param path the file or directory written
 * @param format what is written there, such as {@code oci-archive} or {@code oci-layout}; targets
 *     of different formats never share a path
 * @param name what the target calls the image inside it (a tag), or {@code ""}
 * @param oneImagePerName true when the format keeps one image per name side by side, so targets
 *     with different names can share the path (an OCI layout directory); false when each target
 *     writes the whole file
 */
public record LocalOutput(Path path, String format, String name, boolean oneImagePerName) {
  public LocalOutput {
    path = path.toAbsolutePath().normalize();
    Objects.requireNonNull(format, "format");
    name = name == null ? "" : name;
  }
}
