package dev.kiln;

import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * What {@code Kiln.verify(target, key)} found: the image the target names and one check per thing
 * it looked at (the signature, each attestation, the provenance's subject, each SBOM against the
 * provenance), each saying what matches or what does not.
 *
 * @param target the target as given
 * @param image the digest of the manifest (or index) the target names
 * @param checks what was checked, in order, the signature first
 */
public record VerifyResult(String target, Digest image, List<Check> checks) {

  /** One check: what it is about, whether it holds, and what was found. */
  public record Check(String about, boolean ok, String message) {
    public Check {
      Objects.requireNonNull(about, "about");
      Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
      return (ok ? "ok      " : "FAILED  ") + about + ": " + message;
    }
  }

  public VerifyResult {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(image, "image");
    checks = List.copyOf(checks);
  }

  /** Whether the image is signed by the key and every check holds. */
  public boolean verified() {
    return checks.stream().anyMatch(c -> c.ok() && c.about().equals("signature"))
        && checks.stream().allMatch(Check::ok);
  }

  /** The checks that do not hold. */
  public List<Check> problems() {
    return checks.stream().filter(c -> !c.ok()).toList();
  }

  @Override
  public String toString() {
    return target
        + " ("
        + image
        + "): "
        + (verified() ? "verified" : "NOT verified")
        + "\n"
        + checks.stream().map(c -> "  " + c).collect(Collectors.joining("\n"));
  }
}
