package dev.kiln.ec2;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.DescribeSnapshotsRequest;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.ImageState;
import software.amazon.awssdk.services.ec2.model.LaunchPermission;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.Snapshot;
import software.amazon.awssdk.services.ec2.model.SnapshotAttributeName;
import software.amazon.awssdk.services.ec2.model.SnapshotState;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;

/**
 * Turns a completed snapshot into a published AMI and keeps AMIs tidy: RegisterImage (hvm, ENA, the
 * target's boot mode, {@code /dev/xvda} root mapping, IMDSv2 and NitroTPM options), launch
 * permissions and snapshot create-volume permissions for the shared accounts, copies to other
 * regions, lookup by the Kiln digest tag, and a sweep of what dead bakes left behind.
 *
 * <p>Never orphaned: if anything fails after RegisterImage, the AMI is deregistered and its
 * snapshot deleted; if RegisterImage itself fails, the snapshot is deleted. Until an AMI is fully
 * published, it and its snapshot carry {@code kiln:state=in-progress}, which {@link #sweep} removes
 * once older than a given age.
 *
 * <p>Immutable and thread-safe.
 */
final class AmiRegistrar {
  private static final Logger log = LoggerFactory.getLogger(AmiRegistrar.class);

  /** The root device every Kiln AMI boots from. */
  public static final String ROOT_DEVICE = "/dev/xvda";

  private final Ec2Target target;
  private final String region;
  private final Function<String, Ec2Client> clients;
  private final Duration imageWait;
  private final Duration copyWait;
  private final Duration pollInterval;

  private AmiRegistrar(
      Ec2Target target,
      String region,
      Function<String, Ec2Client> clients,
      Duration imageWait,
      Duration copyWait,
      Duration pollInterval) {
    this.target = target;
    this.region = region;
    this.clients = clients;
    this.imageWait = imageWait;
    this.copyWait = copyWait;
    this.pollInterval = pollInterval;
  }

  /** A registrar for the target and region of {@code clients}. */
  public static AmiRegistrar create(Ec2Clients clients) {
    return create(clients.target(), clients.region(), clients::ec2);
  }

  /**
   * A registrar for {@code target} in {@code region}, with {@code clients} giving the EC2 client of
   * any region (the target's, and each copy region).
   */
  public static AmiRegistrar create(
      Ec2Target target, String region, Function<String, Ec2Client> clients) {
    return new AmiRegistrar(
        Objects.requireNonNull(target),
        Objects.requireNonNull(region),
        Objects.requireNonNull(clients),
        Duration.ofMinutes(15),
        Duration.ofMinutes(90),
        Duration.ofSeconds(5));
  }

  /**
   * A copy that waits at most {@code image} for a registered AMI and {@code copy} for a copied one
   * to become {@code available}, polling at most every {@code poll} (sooner at first: after 100 ms,
   * then twice as long each time).
   */
  public AmiRegistrar waits(Duration image, Duration copy, Duration poll) {
    checkArgument(
        !poll.isZero() && !poll.isNegative(), "poll interval must be positive, found %s", poll);
    return new AmiRegistrar(target, region, clients, image, copy, poll);
  }

  /** The target. */
  public Ec2Target target() {
    return target;
  }

  /** The target region. */
  public String region() {
    return region;
  }

  /**
   * The published ({@code available}, {@code kiln:state=complete}) AMI holding {@code digest}, if
   * any.
   */
  public Optional<Ami> findByDigest(Digest digest) throws ImageStoreException {
    for (Image i : images(ec2(), digest)) {
      if (i.state() == ImageState.AVAILABLE
          && KilnTags.COMPLETE.equals(tag(i.tags(), KilnTags.STATE))) {
        return Optional.of(
            new Ami(region, i.imageId(), i.name(), rootSnapshot(i).orElse(null), digest, Map.of()));
      }
    }
    return Optional.empty();
  }

  /**
   * The newest completed snapshot tagged {@code kiln:key=cacheKey} and {@code kiln:state=complete}
   * in the target region: the parent for an incremental upload of an image built on that key.
   */
  public Optional<String> findSnapshotByKey(String cacheKey) throws ImageStoreException {
    List<Snapshot> found =
        snapshots(
            ec2(),
            b ->
                b.ownerIds("self")
                    .filters(
                        filter("tag:" + KilnTags.KEY, cacheKey),
                        filter("tag:" + KilnTags.STATE, KilnTags.COMPLETE),
                        filter("status", "completed")));
    return found.stream()
        .filter(s -> s.state() == SnapshotState.COMPLETED)
        .max(Comparator.comparing(s -> s.startTime() == null ? Instant.EPOCH : s.startTime()))
        .map(Snapshot::snapshotId);
  }

  /**
   * Whether a snapshot named elsewhere (the remote cache) is completed and readable here: a parent
   * that is not would fail StartSnapshot, so such a hint is dropped and the upload is a full one.
   */
  public boolean isCompletedSnapshot(String snapshotId) {
    try {
      return snapshots(ec2(), b -> b.snapshotIds(snapshotId)).stream()
          .anyMatch(s -> s.state() == SnapshotState.COMPLETED);
    } catch (ImageStoreException | software.amazon.awssdk.core.exception.SdkException e) {
      log.info(
          "snapshot {} from the remote cache is not usable here: {}", snapshotId, e.toString());
      return false;
    }
  }

  /**
   * The tags a snapshot is started with for the image {@code digest}: Kiln's (state in-progress)
   * and the target's.
   */
  public Map<String, String> snapshotTags(Digest digest, String cacheKey) {
    Map<String, String> t = new LinkedHashMap<>();
    t.put(KilnTags.DIGEST, digest.toString());
    t.put(KilnTags.KEY, cacheKey);
    t.put(KilnTags.NAME, target.name());
    t.put(KilnTags.STATE, KilnTags.IN_PROGRESS);
    t.putAll(target.tags());
    return t;
  }

  /**
   * The tags of the AMI holding {@code digest}, state in-progress: Kiln's, the target's, and the
   * inputs as {@code kiln:input:NAME}.
   *
   * @throws IllegalArgumentException when they break EC2's limits (50 tags, keys of 128 and values
   *     of 256 characters); check before uploading
   */
  public Map<String, String> imageTags(Digest digest, String cacheKey, Map<String, String> inputs) {
    Map<String, String> t = snapshotTags(digest, cacheKey);
    for (Map.Entry<String, String> e : inputs.entrySet()) {
      String k = KilnTags.INPUT_PREFIX + e.getKey();
      if (k.length() > 128 || e.getValue().length() > 256) {
        throw new IllegalArgumentException(
            "input '"
                + e.getKey()
                + "' cannot be an AMI tag: key (with kiln:input:) up to 128 and value up to 256 "
                + "characters, found "
                + k.length()
                + " and "
                + e.getValue().length());
      }
      t.put(k, e.getValue());
    }
    if (t.size() > KilnTags.MAX_TAGS) {
      throw new IllegalArgumentException(
          "an AMI can carry at most "
              + KilnTags.MAX_TAGS
              + " tags; Kiln's, the target's and the inputs make "
              + t.size()
              + ": pass fewer inputs or tags");
    }
    return t;
  }

  /**
   * Registers the snapshot as an AMI, waits for it to be available, shares it, marks it complete,
   * then copies it to the target's copy regions. This registrar owns the snapshot from here on: if
   * registration, sharing or tagging fails, the AMI (if any) is deregistered and the snapshot
   * deleted.
   *
   * @throws ImageStoreException on failure; when only a copy failed, the AMI in the target region
   *     stays published (the message says so) and the next bake resumes the copy
   */
  public Ami register(AmiRegistration reg) throws ImageStoreException {
    String name = target.amiName(reg.digest());
    String imageId = null;
    Ec2Client ec2 = ec2();
    try {
      Map<String, String> tags = imageTags(reg.digest(), reg.cacheKey(), reg.inputs());
      imageId = registerImage(ec2, reg, name, tags);
      waitAvailable(ec2, imageId, imageWait);
      share(ec2, imageId, reg.snapshotId());
      markComplete(ec2, List.of(imageId, reg.snapshotId()));
      log.info("registered {} ({}) from {}", imageId, name, reg.snapshotId());
    } catch (Throwable e) {
      boolean interrupted = e instanceof InterruptedException || Thread.interrupted();
      cleanUp(ec2, imageId, reg.snapshotId(), e);
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      if (e instanceof Error) {
        throw (Error) e;
      }
      String what = imageId == null ? "RegisterImage failed" : "publishing " + imageId + " failed";
      throw new ImageStoreException(
          target.toUri(),
          what
              + "; "
              + (imageId == null ? "" : "the AMI was deregistered and ")
              + "snapshot "
              + reg.snapshotId()
              + " deleted: "
              + EbsSnapshotUploader.describeError(e),
          e);
    }
    Ami ami = new Ami(region, imageId, name, reg.snapshotId(), reg.digest(), Map.of());
    return copyToRegions(ami, reg.cacheKey());
  }

  /**
   * Makes an already published AMI match the target: adds missing launch and create-volume
   * permissions and makes missing copies. Idempotent; used when a bake finds the AMI already there.
   */
  public Ami ensureSharedAndCopied(Ami ami, String cacheKey) throws ImageStoreException {
    try {
      share(ec2(), ami.imageId(), ami.snapshotId());
    } catch (AbortedException e) {
      Thread.currentThread().interrupt();
      throw new ImageStoreException(
          target.toUri(), "interrupted while sharing " + ami.imageId(), e);
    } catch (RuntimeException e) {
      throw new ImageStoreException(
          target.toUri(),
          "sharing " + ami.imageId() + " failed: " + EbsSnapshotUploader.describeError(e),
          e);
    }
    return copyToRegions(ami, cacheKey);
  }

  /**
   * Deregisters AMIs and deletes snapshots tagged {@code kiln:state=in-progress} that are older
   * than {@code olderThan}: what bakes that died (or were killed) left in the target region.
   */
  public SweepResult sweep(Duration olderThan) throws ImageStoreException {
    Instant cutoff = Instant.now().minus(olderThan);
    Ec2Client ec2 = ec2();
    List<String> images = new ArrayList<>();
    List<String> snaps = new ArrayList<>();
    try {
      for (Image i :
          Ec2Pages.images(
              ec2,
              b ->
                  b.owners("self")
                      .filters(filter("tag:" + KilnTags.STATE, KilnTags.IN_PROGRESS)))) {
        Instant created = parseInstant(i.creationDate());
        if (created == null || !created.isBefore(cutoff)) {
          continue;
        }
        log.info(
            "sweep: deregistering {} ({}), in progress since {}", i.imageId(), i.name(), created);
        ec2.deregisterImage(b -> b.imageId(i.imageId()));
        images.add(i.imageId());
      }
      for (Snapshot s :
          snapshots(
              ec2,
              b ->
                  b.ownerIds("self")
                      .filters(filter("tag:" + KilnTags.STATE, KilnTags.IN_PROGRESS)))) {
        if (s.startTime() == null || !s.startTime().isBefore(cutoff)) {
          continue;
        }
        try {
          log.info(
              "sweep: deleting snapshot {} ({}), in progress since {}",
              s.snapshotId(),
              s.stateAsString(),
              s.startTime());
          Snapshots.delete(ec2, s.snapshotId());
          snaps.add(s.snapshotId());
        } catch (AwsServiceException e) {
          if (!Ec2Clients.errorCode(e).equals("InvalidSnapshot.InUse")) {
            throw e;
          }
          log.warn(
              "sweep: snapshot {} is tagged in-progress but in use by an AMI; left alone",
              s.snapshotId());
        }
      }
    } catch (AbortedException e) {
      Thread.currentThread().interrupt();
      throw new ImageStoreException(target.toUri(), "interrupted while sweeping", e);
    } catch (RuntimeException e) {
      throw new ImageStoreException(
          target.toUri(), "sweep failed: " + EbsSnapshotUploader.describeError(e), e);
    }
    return new SweepResult(images, snaps);
  }

  /**
   * AMIs owned by this account tagged with {@code digest}, in any state, in the region of {@code
   * ec2}.
   */
  List<Image> images(Ec2Client ec2, Digest digest) throws ImageStoreException {
    try {
      return Ec2Pages.images(
          ec2, b -> b.owners("self").filters(filter("tag:" + KilnTags.DIGEST, digest.toString())));
    } catch (AbortedException e) {
      Thread.currentThread().interrupt();
      throw new ImageStoreException(target.toUri(), "interrupted while looking up " + digest, e);
    } catch (RuntimeException e) {
      throw new ImageStoreException(
          target.toUri(),
          "DescribeImages by "
              + KilnTags.DIGEST
              + " failed: "
              + EbsSnapshotUploader.describeError(e),
          e);
    }
  }

  Ec2Client ec2() {
    return clients.apply(region);
  }

  /**
   * Sets {@code tags} on the AMI {@code imageId} in {@code amiRegion} (the target's region or a
   * copy's), replacing the values of tags of the same keys. Fails, changing nothing, when the AMI
   * is not there or would carry more than {@link KilnTags#MAX_TAGS} tags.
   */
  public void tagImage(String amiRegion, String imageId, Map<String, String> tags)
      throws ImageStoreException {
    Ec2Client ec2 = clients.apply(amiRegion);
    try {
      List<Image> found = Ec2Pages.images(ec2, b -> b.imageIds(imageId));
      if (found.isEmpty()) {
        throw new ImageStoreException(
            target.toUri(), "AMI " + imageId + " is not in " + amiRegion + ": cannot tag it");
      }
      Set<String> keys = new java.util.HashSet<>(tags.keySet());
      found.get(0).tags().forEach(t -> keys.add(t.key()));
      if (keys.size() > KilnTags.MAX_TAGS) {
        throw new ImageStoreException(
            target.toUri(),
            "AMI "
                + imageId
                + " in "
                + amiRegion
                + " would carry "
                + keys.size()
                + " tags with the "
                + tags.size()
                + " naming its signature and documents; EC2 allows "
                + KilnTags.MAX_TAGS
                + ": pass fewer tag.KEY parameters or inputs");
      }
      ec2.createTags(
          b ->
              b.resources(imageId)
                  .tags(
                      tags.entrySet().stream()
                          .map(e -> Tag.builder().key(e.getKey()).value(e.getValue()).build())
                          .toList()));
    } catch (AbortedException e) {
      Thread.currentThread().interrupt();
      throw new ImageStoreException(target.toUri(), "interrupted while tagging " + imageId, e);
    } catch (RuntimeException e) {
      throw new ImageStoreException(
          target.toUri(),
          "CreateTags on "
              + imageId
              + " in "
              + amiRegion
              + " failed: "
              + EbsSnapshotUploader.describeError(e),
          e);
    }
  }

  private String registerImage(
      Ec2Client ec2, AmiRegistration reg, String name, Map<String, String> tags)
      throws ImageStoreException {
    long size =
        target.rootVolumeSizeGiB().isPresent()
            ? target.rootVolumeSizeGiB().getAsInt()
            : reg.volumeSizeGiB();
    if (size < reg.volumeSizeGiB()) {
      throw new ImageStoreException(
          target.toUri(),
          "root volume size "
              + size
              + " GiB is smaller than the snapshot ("
              + reg.volumeSizeGiB()
              + " GiB): raise size=");
    }
    String description = reg.description().orElse("Kiln image " + reg.digest());
    try {
      return ec2.registerImage(
              b -> {
                b.name(name)
                    .description(description)
                    .architecture(target.architecture())
                    .virtualizationType("hvm")
                    .rootDeviceName(ROOT_DEVICE)
                    .enaSupport(true)
                    .bootMode(target.bootMode())
                    .blockDeviceMappings(
                        BlockDeviceMapping.builder()
                            .deviceName(ROOT_DEVICE)
                            .ebs(
                                e ->
                                    e.snapshotId(reg.snapshotId())
                                        .volumeSize((int) size)
                                        .deleteOnTermination(target.deleteOnTermination())
                                        .volumeType(target.volumeType()))
                            .build())
                    .tagSpecifications(tagSpec(ResourceType.IMAGE, tags));
                if (target.imdsV2Required()) {
                  b.imdsSupport("v2.0");
                }
                if (target.tpm()) {
                  b.tpmSupport("v2.0");
                }
              })
          .imageId();
    } catch (AwsServiceException e) {
      if (!Ec2Clients.errorCode(e).equals("InvalidAMIName.Duplicate")) {
        throw e;
      }
      // Either an earlier attempt of ours registered it and its answer was lost, or someone else
      // owns the name.
      for (Image i : Ec2Pages.images(ec2, b -> b.owners("self").filters(filter("name", name)))) {
        if (reg.digest().toString().equals(tag(i.tags(), KilnTags.DIGEST))
            && rootSnapshot(i).filter(reg.snapshotId()::equals).isPresent()) {
          log.info(
              "RegisterImage {}: adopting {} registered by an earlier attempt", name, i.imageId());
          return i.imageId();
        }
        throw new ImageStoreException(
            target.toUri(),
            "an AMI named "
                + name
                + " already exists ("
                + i.imageId()
                + ", "
                + KilnTags.DIGEST
                + "="
                + tag(i.tags(), KilnTags.DIGEST)
                + "), expected none or one holding "
                + reg.digest()
                + ": deregister it or publish under another name");
      }
      throw e;
    }
  }

  private void share(Ec2Client ec2, String imageId, String snapshotId) {
    List<LaunchPermission> add = new ArrayList<>();
    target.shareAccounts().forEach(a -> add.add(LaunchPermission.builder().userId(a).build()));
    target
        .shareOrganizations()
        .forEach(a -> add.add(LaunchPermission.builder().organizationArn(a).build()));
    target
        .shareOrganizationalUnits()
        .forEach(a -> add.add(LaunchPermission.builder().organizationalUnitArn(a).build()));
    if (!add.isEmpty()) {
      ec2.modifyImageAttribute(b -> b.imageId(imageId).launchPermission(m -> m.add(add)));
    }
    // Organizations cannot be given create-volume permission on a snapshot; launching from a shared
    // AMI does not
    // need it, copying the AMI or making volumes from the snapshot does.
    if (!target.shareAccounts().isEmpty() && snapshotId != null) {
      ec2.modifySnapshotAttribute(
          b ->
              b.snapshotId(snapshotId)
                  .attribute(SnapshotAttributeName.CREATE_VOLUME_PERMISSION)
                  .createVolumePermission(
                      m ->
                          m.add(
                              target.shareAccounts().stream()
                                  .map(
                                      a ->
                                          software.amazon.awssdk.services.ec2.model
                                              .CreateVolumePermission.builder()
                                              .userId(a)
                                              .build())
                                  .toList())));
    }
  }

  private void markComplete(Ec2Client ec2, List<String> resources) {
    ec2.createTags(
        b ->
            b.resources(resources)
                .tags(Tag.builder().key(KilnTags.STATE).value(KilnTags.COMPLETE).build()));
  }

  private Ami copyToRegions(Ami ami, String cacheKey) throws ImageStoreException {
    Map<String, String> copies = new LinkedHashMap<>();
    List<String> failures = new ArrayList<>();
    Throwable firstFailure = null;
    for (String r : target.copyRegions()) {
      try {
        copies.put(r, copyTo(ami, r, cacheKey));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ImageStoreException(
            target.toUri(),
            ami.imageId() + " is published in " + region + "; interrupted while copying it to " + r,
            e);
      } catch (Exception e) {
        log.warn("copying {} to {} failed", ami.imageId(), r, e);
        failures.add(r + ": " + EbsSnapshotUploader.describeError(e));
        if (firstFailure == null) {
          firstFailure = e;
        }
      }
    }
    if (!failures.isEmpty()) {
      throw new ImageStoreException(
          target.toUri(),
          ami.imageId()
              + " is published in "
              + region
              + " but copying it failed ("
              + String.join("; ", failures)
              + "); baking again resumes the copies",
          firstFailure);
    }
    return ami.copies(copies);
  }

  private String copyTo(Ami ami, String dest, String cacheKey) throws Exception {
    Ec2Client dst = clients.apply(dest);
    String copyId = null;
    for (Image i : images(dst, ami.digest())) {
      if (i.state() == ImageState.AVAILABLE || i.state() == ImageState.PENDING) {
        copyId = i.imageId();
        log.info(
            "copy of {} in {} exists: {} ({})", ami.imageId(), dest, copyId, i.stateAsString());
        break;
      }
      if (i.state() == ImageState.FAILED
          || i.state() == ImageState.ERROR
          || i.state() == ImageState.INVALID) {
        log.info("deregistering failed copy {} in {}", i.imageId(), dest);
        dst.deregisterImage(b -> b.imageId(i.imageId()));
      }
    }
    if (copyId == null) {
      // A fresh token per attempt: retries of this call are idempotent, a later bake is not tied to
      // a dead copy.
      String token =
          "kiln-" + ami.digest().shortHex() + "-" + UUID.randomUUID().toString().substring(0, 8);
      copyId =
          dst.copyImage(
                  b ->
                      b.sourceRegion(region)
                          .sourceImageId(ami.imageId())
                          .name(ami.name())
                          .description(
                              "Kiln image "
                                  + ami.digest()
                                  + " (copy of "
                                  + ami.imageId()
                                  + " in "
                                  + region
                                  + ")")
                          .copyImageTags(true)
                          .clientToken(token))
              .imageId();
      log.info("copying {} to {}: {}", ami.imageId(), dest, copyId);
    }
    Image copy = waitAvailable(dst, copyId, copyWait);
    String copySnapshot = rootSnapshot(copy).orElse(null);
    List<String> resources = new ArrayList<>(List.of(copyId));
    Map<String, String> tags = snapshotTags(ami.digest(), cacheKey);
    tags.put(KilnTags.STATE, KilnTags.COMPLETE);
    if (copySnapshot != null) {
      resources.add(copySnapshot);
    }
    List<Tag> tagList =
        tags.entrySet().stream()
            .map(e -> Tag.builder().key(e.getKey()).value(e.getValue()).build())
            .toList();
    final String id = copyId;
    dst.createTags(b -> b.resources(resources).tags(tagList));
    share(dst, id, copySnapshot);
    return copyId;
  }

  private Image waitAvailable(Ec2Client ec2, String imageId, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int looks = 1; ; looks++) {
      Image i = null;
      try {
        i = ec2.describeImages(b -> b.imageIds(imageId)).images().stream().findFirst().orElse(null);
      } catch (AwsServiceException e) {
        if (!Ec2Clients.errorCode(e).startsWith("InvalidAMIID.NotFound")) {
          throw e;
        }
      }
      if (i != null && i.state() == ImageState.AVAILABLE) {
        return i;
      }
      if (i != null && i.state() != ImageState.PENDING) {
        throw new ImageStoreException(
            target.toUri(),
            imageId
                + " went to state "
                + i.stateAsString()
                + (i.stateReason() == null ? "" : ": " + i.stateReason().message())
                + ", expected available");
      }
      if (System.nanoTime() > deadline) {
        throw new ImageStoreException(
            target.toUri(),
            imageId
                + " is still "
                + (i == null ? "not visible" : "pending")
                + " after "
                + timeout
                + "; raise the wait with waits(...)");
      }
      Thread.sleep(Ec2Clients.pollDelayMillis(pollInterval, looks));
    }
  }

  private void cleanUp(Ec2Client ec2, String imageId, String snapshotId, Throwable cause) {
    if (imageId != null) {
      try {
        ec2.deregisterImage(b -> b.imageId(imageId));
        log.info("deregistered {} after a failure", imageId);
      } catch (Throwable e) {
        log.warn("could not deregister {}; the next sweep removes it", imageId, e);
        cause.addSuppressed(e);
      }
    }
    try {
      Snapshots.delete(ec2, snapshotId);
      log.info("deleted snapshot {} after a failure", snapshotId);
    } catch (Throwable e) {
      log.warn("could not delete snapshot {}; the next sweep removes it", snapshotId, e);
      cause.addSuppressed(e);
    }
  }

  private List<Snapshot> snapshots(
      Ec2Client ec2, Consumer<DescribeSnapshotsRequest.Builder> request)
      throws ImageStoreException {
    try {
      return Ec2Pages.snapshots(ec2, request);
    } catch (AbortedException e) {
      Thread.currentThread().interrupt();
      throw new ImageStoreException(target.toUri(), "interrupted while listing snapshots", e);
    } catch (RuntimeException e) {
      throw new ImageStoreException(
          target.toUri(), "DescribeSnapshots failed: " + EbsSnapshotUploader.describeError(e), e);
    }
  }

  private static TagSpecification tagSpec(ResourceType type, Map<String, String> tags) {
    return TagSpecification.builder()
        .resourceType(type)
        .tags(
            tags.entrySet().stream()
                .map(e -> Tag.builder().key(e.getKey()).value(e.getValue()).build())
                .toList())
        .build();
  }

  static Filter filter(String name, String... values) {
    return Filter.builder().name(name).values(values).build();
  }

  static String tag(List<Tag> tags, String key) {
    return tags.stream().filter(t -> key.equals(t.key())).map(Tag::value).findFirst().orElse(null);
  }

  static Optional<String> rootSnapshot(Image i) {
    return i.blockDeviceMappings().stream()
        .filter(m -> Objects.equals(m.deviceName(), i.rootDeviceName()) && m.ebs() != null)
        .map(m -> m.ebs().snapshotId())
        .filter(Objects::nonNull)
        .findFirst();
  }

  private static Instant parseInstant(String s) {
    try {
      return s == null ? null : Instant.parse(s);
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
