package dev.kiln;

import java.util.Objects;

/**
 * A document about a baked image: an SBOM (SPDX 2.3 or CycloneDX JSON) or an in-toto provenance
 * statement, with its SHA-256. Kept in the local store as a blob under {@link #digest()}, and
 * listed in {@link BakeResult#attestations()} when {@code Kiln.builder().sbom(…)} or {@code
 * .provenance(true)} asked for it. The same definition gives the same bytes on every machine.
 */
public record Attestation(Kind kind, Digest digest, byte[] content) {

  /** What a document is, and its media type. */
  public enum Kind {
    /** An SPDX 2.3 SBOM, JSON. */
    SPDX("application/spdx+json"),
    /** A CycloneDX 1.6 SBOM, JSON. */
    CYCLONEDX("application/vnd.cyclonedx+json"),
    /** An in-toto Statement v1 with a SLSA Provenance v1 predicate, JSON. */
    PROVENANCE("application/vnd.in-toto+json");

    private final String mediaType;

    Kind(String mediaType) {
      this.mediaType = mediaType;
    }

    public String mediaType() {
      return mediaType;
    }
  }

  public Attestation {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(digest, "digest");
    content = content.clone();
    if (!Digest.of(content).equals(digest)) {
      throw new IllegalArgumentException(
          "the content of the " + kind + " document is not " + digest);
    }
  }

  /** A document of these bytes, its digest computed. */
  public static Attestation of(Kind kind, byte[] content) {
    return new Attestation(kind, Digest.of(content), content);
  }

  /** The document's bytes (a copy). */
  @Override
  public byte[] content() {
    return content.clone();
  }

  public String mediaType() {
    return kind.mediaType();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Attestation a && a.kind == kind && a.digest.equals(digest);
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, digest);
  }

  @Override
  public String toString() {
    return kind + " " + digest + " (" + content.length + " bytes)";
  }
}
