package dev.kiln.ec2;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.DescribeInstancesResponse;
import software.amazon.awssdk.services.ec2.model.DescribeLaunchTemplateVersionsResponse;
import software.amazon.awssdk.services.ec2.model.DescribeLaunchTemplatesResponse;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.ImageAttributeName;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.LaunchPermission;
import software.amazon.awssdk.services.ec2.model.LaunchTemplate;
import software.amazon.awssdk.services.ec2.model.LaunchTemplateVersion;
import software.amazon.awssdk.services.ec2.model.Reservation;

/**
 * What keeps an AMI or a snapshot in use in a region, as {@link Ec2Lifecycle} checks it before it
 * removes one: sharing, live instances, launch template versions, and other AMIs on the same
 * snapshot.
 */
final class Ec2Uses {
  /** Instance states in which an instance still depends on its AMI. */
  private static final List<String> LIVE_STATES =
      List.of("pending", "running", "shutting-down", "stopping", "stopped");

  /** How many ids one DescribeInstances filter carries. */
  private static final int BATCH = 100;

  private Ec2Uses() {}

  /** Why an AMI counts as shared, if it does. */
  static Optional<String> shared(Ec2Client ec2, Image image) {
    Set<String> with = new LinkedHashSet<>();
    if (Boolean.TRUE.equals(image.publicLaunchPermissions())) {
      with.add("everyone (public)");
    }
    List<LaunchPermission> permissions =
        ec2.describeImageAttribute(
                b -> b.imageId(image.imageId()).attribute(ImageAttributeName.LAUNCH_PERMISSION))
            .launchPermissions();
    for (LaunchPermission p : permissions) {
      if (p.group() != null) {
        with.add("everyone (public)");
      } else if (p.userId() != null && !p.userId().equals(image.ownerId())) {
        with.add(p.userId());
      } else if (p.organizationArn() != null) {
        with.add(p.organizationArn());
      } else if (p.organizationalUnitArn() != null) {
        with.add(p.organizationalUnitArn());
      }
    }
    return with.isEmpty()
        ? Optional.empty()
        : Optional.of("shared with " + String.join(", ", with));
  }

  /** AMI id to the live instances launched from it, for the AMIs in {@code ids}. */
  static Map<String, List<String>> instances(Ec2Client ec2, List<String> ids) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (int from = 0; from < ids.size(); from += BATCH) {
      List<String> batch = ids.subList(from, Math.min(ids.size(), from + BATCH));
      List<Reservation> reservations =
          Ec2Pages.all(
              t ->
                  ec2.describeInstances(
                      b ->
                          b.filters(
                                  AmiRegistrar.filter("image-id", batch.toArray(String[]::new)),
                                  AmiRegistrar.filter(
                                      "instance-state-name", LIVE_STATES.toArray(String[]::new)))
                              .maxResults(1000)
                              .nextToken(t)),
              DescribeInstancesResponse::reservations,
              DescribeInstancesResponse::nextToken);
      for (Reservation res : reservations) {
        for (Instance i : res.instances()) {
          out.computeIfAbsent(i.imageId(), k -> new ArrayList<>()).add(i.instanceId());
        }
      }
    }
    return out;
  }

  /** AMI id to the launch template versions naming it ({@code lt-… v2}), in the region. */
  static Map<String, List<String>> launchTemplates(Ec2Client ec2) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    List<LaunchTemplate> templates =
        Ec2Pages.all(
            t -> ec2.describeLaunchTemplates(b -> b.maxResults(200).nextToken(t)),
            DescribeLaunchTemplatesResponse::launchTemplates,
            DescribeLaunchTemplatesResponse::nextToken);
    for (LaunchTemplate lt : templates) {
      List<LaunchTemplateVersion> versions =
          Ec2Pages.all(
              t ->
                  ec2.describeLaunchTemplateVersions(
                      b -> b.launchTemplateId(lt.launchTemplateId()).maxResults(200).nextToken(t)),
              DescribeLaunchTemplateVersionsResponse::launchTemplateVersions,
              DescribeLaunchTemplateVersionsResponse::nextToken);
      for (LaunchTemplateVersion v : versions) {
        if (v.launchTemplateData() != null && v.launchTemplateData().imageId() != null) {
          out.computeIfAbsent(v.launchTemplateData().imageId(), k -> new ArrayList<>())
              .add(lt.launchTemplateId() + " v" + v.versionNumber());
        }
      }
    }
    return out;
  }

  /** An AMI other than those in {@code leaving} whose block devices use {@code snapshotId}. */
  static Optional<String> otherUser(Ec2Client ec2, String snapshotId, Set<String> leaving) {
    for (Image i :
        Ec2Pages.images(
            ec2,
            b ->
                b.owners("self")
                    .filters(
                        AmiRegistrar.filter("block-device-mapping.snapshot-id", snapshotId)))) {
      if (!leaving.contains(i.imageId())) {
        return Optional.of(i.imageId());
      }
    }
    return Optional.empty();
  }
}
