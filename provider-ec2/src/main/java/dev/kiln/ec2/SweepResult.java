package dev.kiln.ec2;

import java.util.List;

/**
 * What a sweep removed: AMIs and snapshots left tagged {@code kiln:state=in-progress} by bakes that
 * died.
 *
 * @param deregisteredImages AMI ids deregistered
 * @param deletedSnapshots snapshot ids deleted
 */
public record SweepResult(List<String> deregisteredImages, List<String> deletedSnapshots) {
  public SweepResult {
    deregisteredImages = List.copyOf(deregisteredImages);
    deletedSnapshots = List.copyOf(deletedSnapshots);
  }

  /** Nothing removed. */
  public static SweepResult empty() {
    return new SweepResult(List.of(), List.of());
  }
}
