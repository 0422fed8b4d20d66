package dev.kiln.ec2;

import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.ImageState;

/**
 * Publishes an image's raw disk as an AMI, the whole {@code ec2://} flow: sweep what dead bakes
 * left, reuse an AMI that already holds the digest, otherwise upload the disk (incrementally over
 * the base image's snapshot when there is one), register, share, tag and copy.
 *
 * <pre>{@code
 * try (Ec2Clients clients = Ec2Clients.create(Ec2Target.parse("ec2://eu-west-1/web?share=123456789012"))) {
 *   PublishResult r = Ec2Publisher.create(clients)
 *       .publish(PublishRequest.of(disk, digest, key).base(baseKey, baseDisk), progress -> {});
 * }
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class Ec2Publisher {
  private static final Logger log = LoggerFactory.getLogger(Ec2Publisher.class);

  /**
   * Default age after which an in-progress leftover is swept: longer than any bake, shorter than a
   * day.
   */
  public static final Duration DEFAULT_SWEEP_AGE = Duration.ofHours(6);

  private final Ec2Target target;
  private final EbsSnapshotUploader uploader;
  private final AmiRegistrar registrar;
  private final Optional<Duration> sweepAge;
  private final SnapshotDirectory directory;

  private Ec2Publisher(
      Ec2Target target,
      EbsSnapshotUploader uploader,
      AmiRegistrar registrar,
      Optional<Duration> sweepAge) {
    this(target, uploader, registrar, sweepAge, SnapshotDirectory.NONE);
  }

  private Ec2Publisher(
      Ec2Target target,
      EbsSnapshotUploader uploader,
      AmiRegistrar registrar,
      Optional<Duration> sweepAge,
      SnapshotDirectory directory) {
    this.target = target;
    this.uploader = uploader;
    this.registrar = registrar;
    this.sweepAge = sweepAge;
    this.directory = directory;
  }

  /**
   * A copy that also finds base snapshots in {@code d} (the remote cache of a build fleet) when the
   * account's tags name none, and records the snapshots it uploads there.
   */
  Ec2Publisher snapshotDirectory(SnapshotDirectory d) {
    return new Ec2Publisher(target, uploader, registrar, sweepAge, Objects.requireNonNull(d));
  }

  /** A publisher over {@code clients} (which the caller closes), with default settings. */
  public static Ec2Publisher create(Ec2Clients clients) {
    return new Ec2Publisher(
        clients.target(),
        EbsSnapshotUploader.create(clients),
        AmiRegistrar.create(clients),
        Optional.of(DEFAULT_SWEEP_AGE));
  }

  /** A copy that uploads with {@code u} (e.g. {@code p.uploader(p.uploader().concurrency(16))}). */
  Ec2Publisher uploader(EbsSnapshotUploader u) {
    return new Ec2Publisher(target, Objects.requireNonNull(u), registrar, sweepAge);
  }

  /** A copy that registers with {@code r}. */
  Ec2Publisher registrar(AmiRegistrar r) {
    return new Ec2Publisher(target, uploader, Objects.requireNonNull(r), sweepAge);
  }

  /**
   * A copy that runs up to {@code n} PutSnapshotBlock calls at once (1-1024, default {@value
   * EbsSnapshotUploader#DEFAULT_CONCURRENCY}); give the clients a connection pool as large.
   */
  public Ec2Publisher concurrency(int n) {
    return uploader(uploader.concurrency(n));
  }

  /** A copy that sweeps in-progress leftovers older than {@code age} before publishing. */
  public Ec2Publisher sweepAge(Duration age) {
    return new Ec2Publisher(target, uploader, registrar, Optional.of(age));
  }

  /** A copy that does not sweep. */
  public Ec2Publisher noSweep() {
    return new Ec2Publisher(target, uploader, registrar, Optional.empty());
  }

  EbsSnapshotUploader uploader() {
    return uploader;
  }

  AmiRegistrar registrar() {
    return registrar;
  }

  public Ec2Target target() {
    return target;
  }

  /** The published AMI holding {@code digest} in the target region, if any (nothing is changed). */
  public Optional<Ami> find(Digest digest) throws ImageStoreException {
    return registrar.findByDigest(digest);
  }

  /**
   * Publishes {@code request} to the target: reuses the AMI holding the same digest (making sure it
   * is shared and copied as the target says) or uploads and registers a new one.
   *
   * @param listener receives upload progress (thread-safe, see {@link UploadListener})
   * @throws ImageStoreException on failure; nothing this call created is left behind, except a
   *     published AMI whose copy to another region failed (the message says so)
   */
  public PublishResult publish(PublishRequest request, UploadListener listener)
      throws ImageStoreException {
    SweepResult swept = SweepResult.empty();
    if (sweepAge.isPresent()) {
      try {
        swept = registrar.sweep(sweepAge.get());
      } catch (ImageStoreException e) {
        log.warn("sweep of {} failed; publishing anyway", target, e);
      }
    }
    Digest digest = request.digest();
    for (Image i : registrar.images(registrar.ec2(), digest)) {
      String state = AmiRegistrar.tag(i.tags(), KilnTags.STATE);
      if (i.state() == ImageState.AVAILABLE && KilnTags.COMPLETE.equals(state)) {
        Ami found =
            new Ami(
                registrar.region(),
                i.imageId(),
                i.name(),
                AmiRegistrar.rootSnapshot(i).orElse(null),
                digest,
                java.util.Map.of());
        log.info("{} already holds {}: reusing it", i.imageId(), digest);
        return new PublishResult(
            registrar.ensureSharedAndCopied(found, request.cacheKey()),
            true,
            Optional.empty(),
            swept);
      }
      if (KilnTags.IN_PROGRESS.equals(state)
          && (i.state() == ImageState.PENDING || i.state() == ImageState.AVAILABLE)) {
        throw new ImageStoreException(
            target.toUri(),
            i.imageId()
                + " for "
                + digest
                + " is being created by another bake (tagged "
                + KilnTags.STATE
                + "="
                + KilnTags.IN_PROGRESS
                + " since "
                + i.creationDate()
                + "): wait for it, or, if "
                + "that bake died, sweep with a shorter age");
      }
    }
    try {
      // too many or too long tags fail here, before anything is uploaded
      registrar.imageTags(digest, request.cacheKey(), request.inputs());
    } catch (IllegalArgumentException e) {
      throw new ImageStoreException(target.toUri(), e.getMessage(), e);
    }
    SnapshotUpload upload =
        SnapshotUpload.of(request.disk())
            .target(target.toUri())
            .description("Kiln " + target.amiName(digest) + " " + digest)
            .tags(registrar.snapshotTags(digest, request.cacheKey()));
    if (request.base().isPresent()) {
      PublishRequest.Base base = request.base().get();
      Optional<String> parent = registrar.findSnapshotByKey(base.cacheKey());
      if (parent.isEmpty()) {
        parent =
            directory
                .find(registrar.region(), base.cacheKey())
                .filter(registrar::isCompletedSnapshot);
        parent.ifPresent(
            p -> log.info("base {} has snapshot {} in the remote cache", base.cacheKey(), p));
      }
      if (parent.isPresent()) {
        log.info(
            "base {} has snapshot {}: uploading only the blocks that differ",
            base.cacheKey(),
            parent.get());
        upload = upload.parent(parent.get(), base.disk());
      } else {
        log.info("no snapshot for base {} in {}: full upload", base.cacheKey(), registrar.region());
      }
    }
    Instant t0 = Instant.now();
    UploadResult uploaded = uploader.upload(upload, listener);
    directory.record(registrar.region(), request.cacheKey(), uploaded.snapshotId());
    Ami ami =
        registrar.register(
            AmiRegistration.of(
                    uploaded.snapshotId(), uploaded.volumeSizeGiB(), digest, request.cacheKey())
                .inputs(request.inputs()));
    log.info(
        "published {} as {} in {}", digest, ami.imageId(), Duration.between(t0, Instant.now()));
    return new PublishResult(ami, false, Optional.of(uploaded), swept);
  }
}
