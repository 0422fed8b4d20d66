package dev.kiln.vmware;

import dev.kiln.Digest;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The line that ties a VMware template to the Kiln image it was made from: {@code
 * Kiln-Image-Digest: sha256:<hex>}. Kiln writes it as the last line of the VM annotation (OVF
 * {@code AnnotationSection}) and of a content library item's description, and reads it back to tell
 * "already published" from "a different image under the same name".
 *
 * <p>Stateless and thread-safe.
 */
final class DigestNote {
  /** The line's label. */
  static final String LABEL = "Kiln-Image-Digest";

  private static final Pattern LINE =
      Pattern.compile("(?m)^" + LABEL + ": (sha256:[0-9a-f]{64})\\s*$");

  private DigestNote() {}

  /** The line for {@code digest}, without a line break. */
  static String line(Digest digest) {
    return LABEL + ": " + digest;
  }

  /**
   * {@code text} followed by the digest line (after a blank line when {@code text} is not empty);
   * any digest line already in {@code text} is removed first, so the result holds exactly one.
   */
  static String append(String text, Digest digest) {
    String base = LINE.matcher(text == null ? "" : text).replaceAll("").strip();
    return base.isEmpty() ? line(digest) : base + "\n\n" + line(digest);
  }

  /** The digest named by the last digest line in {@code text}, if there is one. */
  static Optional<Digest> find(String text) {
    if (text == null) {
      return Optional.empty();
    }
    Matcher m = LINE.matcher(text);
    String last = null;
    while (m.find()) {
      last = m.group(1);
    }
    return Optional.ofNullable(last).map(Digest::parse);
  }
}
