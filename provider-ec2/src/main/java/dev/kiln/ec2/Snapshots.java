package dev.kiln.ec2;

import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.services.ec2.Ec2Client;

/** EC2 snapshot calls shared by the uploader and the registrar. */
final class Snapshots {
  private Snapshots() {}

  /** Deletes a snapshot; one that is already gone counts as deleted. */
  static void delete(Ec2Client ec2, String snapshotId) {
    try {
      ec2.deleteSnapshot(b -> b.snapshotId(snapshotId));
    } catch (AwsServiceException e) {
      if (!Ec2Clients.errorCode(e).startsWith("InvalidSnapshot.NotFound")) {
        throw e;
      }
    }
  }
}
