package dev.kiln.disk;

import dev.kiln.spi.LayerEntry.Type;

/**
 * The error of a layer entry whose parent path is, in the layers below, something other than a
 * directory: the entry would be written through it. Staging a build and planning an extension
 * refuse it with the same words.
 */
final class ParentNotADirectory {
  private ParentNotADirectory() {}

  /**
   * The message for entry {@code path} of {@code layer} below {@code parent}, which is a {@code
   * parentType}; {@code symlinkTarget} (or null) is named when the parent is a symlink.
   */
  static String message(
      String layer, String path, String parent, Type parentType, String symlinkTarget) {
    return "layer "
        + layer
        + ": entry /"
        + path
        + " would be written through /"
        + parent
        + ", which is a "
        + parentType.name().toLowerCase()
        + (symlinkTarget != null ? " (to " + symlinkTarget + ")" : "")
        + ", not a directory";
  }
}
