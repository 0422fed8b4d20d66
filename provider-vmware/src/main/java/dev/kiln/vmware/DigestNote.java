package dev.kiln.vmware;

import dev.kiln.Digest;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The line that ties a VMware template to the Kiln image it was made from: {@code
 * Kiln-Image-Digest: sha256:<hex>}. Kiln writes it as the last line of the VM annotation (OVF
 * {@code AnnotationSection}) and of a content library item's description, and reads it back to tell
 * "already published" from "a different image under the same name". A template's annotation also
 * carries, just before it, the time Kiln published it, {@code Kiln-Published: <ISO instant>}: what
 * template retention ranks templates by ({@link VsphereLifecycle}).
 *
 * <p>Stateless and thread-safe.
 */
final class DigestNote {
  /** The line's label. */
  static final String LABEL = "Kiln-Image-Digest";

  /** The label of the publication time line. */
  static final String PUBLISHED_LABEL = "Kiln-Published";

  private static final Pattern LINE =
      Pattern.compile("(?m)^" + LABEL + ": (sha256:[0-9a-f]{64})\\s*$");
  private static final Pattern PUBLISHED_LINE =
      Pattern.compile("(?m)^" + PUBLISHED_LABEL + ": (\\S+)\\s*$");

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

  /**
   * {@code text} ending with the publication time line and the digest line; digest and time lines
   * already in {@code text} are removed first.
   */
  static String stamp(String text, Digest digest, Instant published) {
    String base =
        PUBLISHED_LINE
            .matcher(LINE.matcher(text == null ? "" : text).replaceAll(""))
            .replaceAll("")
            .strip();
    String lines =
        PUBLISHED_LABEL + ": " + published.truncatedTo(ChronoUnit.MILLIS) + "\n" + line(digest);
    return base.isEmpty() ? lines : base + "\n\n" + lines;
  }

  /** The publication time named by the last time line in {@code text}, if there is a valid one. */
  static Optional<Instant> published(String text) {
    if (text == null) {
      return Optional.empty();
    }
    Matcher m = PUBLISHED_LINE.matcher(text);
    String last = null;
    while (m.find()) {
      last = m.group(1);
    }
    try {
      return Optional.ofNullable(last).map(Instant::parse);
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }
}
