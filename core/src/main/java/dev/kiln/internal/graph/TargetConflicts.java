package dev.kiln.internal.graph;

import dev.kiln.InvalidTargetException;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.LocalOutput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Refuses, before a bake writes anything, targets whose local outputs would overwrite each other,
 * so that every target a bake reports as published holds its image. Two targets on one path (after
 * resolving symlinks of the parts that exist) are compatible only when both write the same format
 * and either
 *
 * <ul>
 *   <li>the format keeps one image per name and the names differ (two tags of one OCI layout), or
 *   <li>they are the same output of the same build (one target spelled twice): both hold the same
 *       image.
 * </ul>
 *
 * Everything else is refused with an {@link InvalidTargetException} naming both targets: an {@code
 * oci-archive:} and a {@code docker-archive:} of one file, two tags of one archive (an archive
 * holds the one image it was written with), one tag or one archive written by two builds of one
 * {@code bakeAll}, a layout and an archive on one path.
 */
final class TargetConflicts {
  private TargetConflicts() {}

  private record Output(String target, int request, LocalOutput output) {}

  /**
   * Checks the targets of every request of one bake.
   *
   * @param stores per request (in order), the resolved store of each target
   * @throws InvalidTargetException naming two targets that would overwrite each other
   */
  static void check(List<Map<String, ImageStore>> stores) {
    Map<Path, List<Output>> byPath = new LinkedHashMap<>();
    for (int r = 0; r < stores.size(); r++) {
      for (Map.Entry<String, ImageStore> t : stores.get(r).entrySet()) {
        Optional<LocalOutput> o = t.getValue().localOutput();
        if (o.isPresent()) {
          Output out = new Output(t.getKey(), r, o.get());
          List<Output> same =
              byPath.computeIfAbsent(canonical(o.get().path()), p -> new ArrayList<>());
          for (Output other : same) {
            String why = conflict(other, out);
            if (why != null) {
              throw new InvalidTargetException(
                  "targets '"
                      + other.target()
                      + "' and '"
                      + out.target()
                      + "' both write "
                      + o.get().path()
                      + ": "
                      + why);
            }
          }
          same.add(out);
        }
      }
    }
  }

  /** Why two outputs on one path cannot both hold their image, or null when they can. */
  private static String conflict(Output a, Output b) {
    LocalOutput x = a.output();
    LocalOutput y = b.output();
    if (!x.format().equals(y.format())) {
      return "one is " + x.format() + ", the other " + y.format() + "; give each its own path";
    }
    if (!x.name().equals(y.name())) {
      return x.oneImagePerName()
          ? null
          : "a "
              + x.format()
              + " holds one image under one name, so only one of them would be there; give each its own file";
    }
    if (a.request() != b.request()) {
      return "two builds of one bake would write "
          + (x.oneImagePerName() ? "the same tag" : "the same file")
          + " and only the last would be there";
    }
    return null;
  }

  /**
   * The path with symlinks resolved as far as it exists, so two spellings of one file (through
   * {@code ..}, {@code .} or a symlinked directory or file) compare equal. The part that does not
   * exist yet is kept as written.
   */
  static Path canonical(Path path) {
    Path p = path.toAbsolutePath().normalize();
    Path existing = p;
    while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      return p;
    }
    try {
      return existing.toRealPath().resolve(existing.relativize(p)).normalize();
    } catch (IOException e) {
      return p; // a dangling symlink or an unreadable directory: compare as written
    }
  }
}
