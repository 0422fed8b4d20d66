package dev.kiln.internal.tar;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;

/**
 * The names entries take in a layer tar: an entry's path, except for the OCI whiteouts, which are
 * empty files named {@code dir/.wh.NAME} (deletes {@code dir/NAME}) and {@code dir/.wh..wh..opq}
 * (hides what the lower layers have in {@code dir}). Names starting with {@code .wh.} are reserved
 * for them.
 */
final class TarNames {
  private static final String WHITEOUT_PREFIX = ".wh.";
  private static final String OPAQUE_NAME = ".wh..wh..opq";

  private TarNames() {}

  /**
   * The name {@code e} is stored under, without the trailing slash of directories; also what the
   * entries of a layer are sorted by.
   */
  static String of(LayerEntry e) {
    if (e.type() == Type.WHITEOUT) {
      String path = e.path();
      int slash = path.lastIndexOf('/');
      return path.substring(0, slash + 1) + WHITEOUT_PREFIX + path.substring(slash + 1);
    }
    if (e.type() == Type.OPAQUE_WHITEOUT) {
      return e.path() + "/" + OPAQUE_NAME;
    }
    return e.path();
  }

  /** Refuses a path with a segment starting with {@code .wh.}, a name reserved for whiteouts. */
  static void checkNotReserved(String path) {
    for (String segment : path.split("/")) {
      checkArgument(
          !segment.startsWith(WHITEOUT_PREFIX),
          "layer entry '%s': names starting with '.wh.' are reserved for OCI whiteouts; "
              + "use LayerEntry.whiteout or opaqueWhiteout",
          path);
    }
  }
}
