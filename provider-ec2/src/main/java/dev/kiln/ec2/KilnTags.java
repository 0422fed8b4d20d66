package dev.kiln.ec2;

/**
 * The tags Kiln puts on the snapshots and AMIs it makes. They are how a later bake finds an AMI to
 * reuse (by digest), a parent snapshot for an incremental upload (by cache key), and leftovers to
 * sweep (by state).
 */
final class KilnTags {
  /** The Kiln image digest, {@code sha256:<hex>}: the identity of the image an AMI holds. */
  public static final String DIGEST = "kiln:digest";

  /**
   * The cache key of the image (its top layer's recipe key): finds a parent snapshot for a derived
   * image.
   */
  public static final String KEY = "kiln:key";

  /** The target name the AMI was published under. */
  public static final String NAME = "kiln:name";

  /**
   * {@link #IN_PROGRESS} while a bake creates the resource, {@link #COMPLETE} once it is published.
   */
  public static final String STATE = "kiln:state";

  /**
   * The StartSnapshot client token of the upload that made a snapshot: finds a snapshot whose
   * StartSnapshot answer was lost, so that it can be deleted.
   */
  public static final String UPLOAD = "kiln:upload";

  /** Prefix of the tags carrying the image record's inputs: {@code kiln:input:NAME}. */
  public static final String INPUT_PREFIX = "kiln:input:";

  /**
   * The value of {@link #STATE} while a bake is creating the resource; what the sweep looks for.
   */
  public static final String IN_PROGRESS = "in-progress";

  /** The value of {@link #STATE} once the AMI is registered, shared and tagged. */
  public static final String COMPLETE = "complete";

  /**
   * The value of {@link #STATE} on a snapshot whose AMI retention is deregistering: the snapshot is
   * deleted next, and a later run deletes it if this one could not ({@link Ec2Lifecycle}).
   */
  public static final String RETIRED = "retired";

  /**
   * With a signer ({@code Kiln.builder().signWith}): the digest of the image's SPDX SBOM, {@code
   * sha256:<hex>}, as the store and the attestations location keep it. {@link #DSSE_SUFFIX} names
   * its signed envelope.
   */
  public static final String SBOM_SPDX = "kiln:sbom.spdx";

  /** The digest of the image's CycloneDX SBOM; see {@link #SBOM_SPDX}. */
  public static final String SBOM_CYCLONEDX = "kiln:sbom.cyclonedx";

  /** The digest of the image's provenance (an in-toto statement naming this AMI). */
  public static final String PROVENANCE = "kiln:provenance";

  /**
   * The digest of the AMI's signature: a DSSE envelope of the cosign simple signing payload that
   * names {@code ec2://REGION/AMI-ID} and the image digest.
   */
  public static final String SIGNATURE = "kiln:signature";

  /** Appended to a document's tag: the digest of the document's signed DSSE envelope. */
  public static final String DSSE_SUFFIX = ".dsse";

  /** EC2 allows at most this many tags on a resource. */
  public static final int MAX_TAGS = 50;

  private KilnTags() {}
}
