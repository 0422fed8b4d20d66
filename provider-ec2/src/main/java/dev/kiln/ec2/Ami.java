package dev.kiln.ec2;

import dev.kiln.Digest;
import java.util.Map;

/**
 * A published AMI: its id and name in the target region, the snapshot behind its root volume, the
 * image digest it holds, and its copies in other regions.
 *
 * @param region the target region
 * @param imageId the AMI id, {@code ami-...}
 * @param name the AMI name, {@code NAME-<12 hex>}
 * @param snapshotId the root volume's snapshot
 * @param digest the Kiln image digest it holds
 * @param copies region to AMI id of each copy
 */
public record Ami(
    String region,
    String imageId,
    String name,
    String snapshotId,
    Digest digest,
    Map<String, String> copies) {
  public Ami {
    copies = Map.copyOf(copies);
  }

  /**
   * The AMI as flat details for an image record: {@code region}, {@code imageId}, {@code name},
   * {@code snapshotId}, and {@code copy.REGION} for each copy.
   */
  public Map<String, String> details() {
    Map<String, String> d = new java.util.TreeMap<>();
    d.put("region", region);
    d.put("imageId", imageId);
    d.put("name", name);
    if (snapshotId != null) {
      d.put("snapshotId", snapshotId);
    }
    copies.forEach((r, id) -> d.put("copy." + r, id));
    return d;
  }

  /** This AMI with these copies. */
  Ami copies(Map<String, String> c) {
    return new Ami(region, imageId, name, snapshotId, digest, c);
  }
}
