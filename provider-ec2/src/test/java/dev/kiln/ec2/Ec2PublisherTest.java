package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.ec2.LoopbackAws.Fault;
import dev.kiln.ec2.LoopbackAws.ImageInfo;
import dev.kiln.ec2.LoopbackAws.SnapshotInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.EbsBlockDevice;
import software.amazon.awssdk.services.ec2.model.ImageAttributeName;
import software.amazon.awssdk.services.ec2.model.LaunchPermission;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;

/**
 * The whole ec2:// flow against the loopback server: upload, register, share, copy, reuse, clean
 * up.
 */
class Ec2PublisherTest {
  static final String REGION = "eu-west-1";
  static final String ACCOUNT_A = "123456789012";
  static final String ORG = "arn:aws:organizations::111122223333:organization/o-abcdef1234";
  static final long MIB = TestDisks.MIB;

  @TempDir Path dir;
  @Loopback LoopbackAws aws;

  Ec2Publisher publisher(Ec2Clients clients) {
    Ec2Publisher p = Ec2Publisher.create(clients);
    return p.uploader(
            p.uploader()
                .concurrency(8)
                .completionWait(Duration.ofSeconds(30), Duration.ofMillis(10)))
        .registrar(
            p.registrar()
                .waits(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMillis(10)));
  }

  static Digest digest(String s) {
    return Digest.of(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void baseThenAppThenRebakeOfTheSameImage() throws Exception {
    Ec2Target target =
        aws.target(REGION, "web").share(ACCOUNT_A, ORG).copyTo("us-east-1").tag("team", "platform");
    Path base = TestDisks.randomSparse(dir.resolve("base.raw"), 256 * MIB, 60, 21);
    Digest baseDigest = digest("base image");
    Path app = TestDisks.sparseCopy(base, dir.resolve("app.raw"));
    TestDisks.writeRandom(app, 64 * MIB + 777, 5 * (int) MIB, new Random(22));
    Set<Integer> differing = TestDisks.differingBlocks(base, app);
    Digest appDigest = digest("app image");

    try (Ec2Clients clients = TestRetries.clients(target, 16)) {
      Ec2Publisher p = publisher(clients);

      // 1. the base: a full upload, registered with the requested attributes, shared, copied
      PublishResult b =
          p.publish(
              PublishRequest.of(base, baseDigest, "key-base").inputs(Map.of("rootfs", "sha256:aa")),
              UploadListener.none());
      assertThat(b.reused()).isFalse();
      assertThat(b.ami().name()).isEqualTo("web-" + baseDigest.shortHex());
      ImageInfo img = aws.image(b.ami().imageId()).orElseThrow();
      assertThat(img.state()).isEqualTo("available");
      assertThat(img.name()).isEqualTo("web-" + baseDigest.shortHex());
      assertThat(img.architecture()).isEqualTo("x86_64");
      assertThat(img.bootMode()).isEqualTo("uefi");
      assertThat(img.virtualizationType()).isEqualTo("hvm");
      assertThat(img.enaSupport()).isTrue();
      assertThat(img.bootMode()).isEqualTo("uefi");
      assertThat(img.imdsSupport()).isEqualTo("v2.0");
      assertThat(img.tpmSupport()).isNull();
      assertThat(img.rootDeviceName()).isEqualTo("/dev/xvda");
      assertThat(img.blockDeviceMappings())
          .containsExactly(new LoopbackAws.Bdm("/dev/xvda", b.ami().snapshotId(), 1, true, "gp3"));
      assertThat(img.tags())
          .containsEntry("kiln:digest", baseDigest.toString())
          .containsEntry("kiln:key", "key-base")
          .containsEntry("kiln:name", "web")
          .containsEntry("kiln:state", "complete")
          .containsEntry("kiln:input:rootfs", "sha256:aa")
          .containsEntry("team", "platform");
      assertThat(img.launchUsers()).containsExactly(ACCOUNT_A);
      assertThat(img.launchOrganizations()).containsExactly(ORG);
      SnapshotInfo snap = aws.snapshot(b.ami().snapshotId()).orElseThrow();
      assertThat(snap.tags())
          .containsEntry("kiln:state", "complete")
          .containsEntry("kiln:key", "key-base");
      assertThat(snap.createVolumePermissions()).containsExactly(ACCOUNT_A);
      assertThat(snap.description()).contains(baseDigest.toString());
      Path back = dir.resolve("base.back");
      aws.assembleDisk(b.ami().snapshotId(), back, Files.size(base));
      assertThat(TestDisks.mismatch(base, back)).isEqualTo(-1L);

      // the copy: CopyImage in us-east-1 from eu-west-1, tags copied, shared there too
      assertThat(aws.log("CopyImage"))
          .singleElement()
          .satisfies(
              c -> {
                assertThat(c.region()).isEqualTo("us-east-1");
                assertThat(c.params())
                    .containsEntry("SourceRegion", REGION)
                    .containsEntry("SourceImageId", b.ami().imageId())
                    .containsEntry("Name", b.ami().name())
                    .containsEntry("CopyImageTags", "true")
                    .containsKey("ClientToken");
              });
      String copyId = b.ami().copies().get("us-east-1");
      ImageInfo copy = aws.image(copyId).orElseThrow();
      assertThat(copy.region()).isEqualTo("us-east-1");
      assertThat(copy.state()).isEqualTo("available");
      assertThat(copy.sourceImageId()).contains(b.ami().imageId());
      assertThat(copy.tags())
          .containsEntry("kiln:digest", baseDigest.toString())
          .containsEntry("kiln:state", "complete");
      assertThat(copy.launchUsers()).containsExactly(ACCOUNT_A);
      assertThat(copy.launchOrganizations()).containsExactly(ORG);
      SnapshotInfo copySnap = aws.snapshot(copy.rootSnapshotId()).orElseThrow();
      assertThat(copySnap.region()).isEqualTo("us-east-1");
      assertThat(copySnap.createVolumePermissions()).containsExactly(ACCOUNT_A);
      assertThat(copySnap.tags())
          .containsEntry("kiln:key", "key-base")
          .containsEntry("kiln:state", "complete");
      // what DescribeImageAttribute tells a client
      assertThat(
              clients
                  .ec2()
                  .describeImageAttribute(
                      r ->
                          r.imageId(b.ami().imageId())
                              .attribute(ImageAttributeName.LAUNCH_PERMISSION))
                  .launchPermissions())
          .containsExactlyInAnyOrder(
              LaunchPermission.builder().userId(ACCOUNT_A).build(),
              LaunchPermission.builder().organizationArn(ORG).build());

      // 2. the app on that base: its snapshot has the base's as parent and only the differing
      // blocks are sent
      int putsBefore = aws.calls("PutSnapshotBlock");
      PublishResult a =
          p.publish(
              PublishRequest.of(app, appDigest, "key-app").base("key-base", base),
              UploadListener.none());
      UploadResult up = a.upload().orElseThrow();
      assertThat(up.parentSnapshotId()).contains(b.ami().snapshotId());
      assertThat(up.blocksSent()).isEqualTo(differing.size());
      assertThat(aws.calls("PutSnapshotBlock") - putsBefore).isEqualTo(differing.size());
      assertThat(aws.snapshot(a.ami().snapshotId()).orElseThrow().parentSnapshotId())
          .contains(b.ami().snapshotId());
      Path appBack = dir.resolve("app.back");
      aws.assembleDisk(a.ami().snapshotId(), appBack, Files.size(app));
      assertThat(TestDisks.mismatch(app, appBack)).isEqualTo(-1L);

      // 3. the same definition again: nothing uploaded, the same AMI
      int starts = aws.calls("StartSnapshot");
      int registers = aws.calls("RegisterImage");
      PublishResult again =
          p.publish(
              PublishRequest.of(app, appDigest, "key-app").base("key-base", base),
              UploadListener.none());
      assertThat(again.reused()).isTrue();
      assertThat(again.bytesUploaded()).isZero();
      assertThat(again.ami().imageId()).isEqualTo(a.ami().imageId());
      assertThat(again.ami().copies()).isEqualTo(a.ami().copies());
      assertThat(aws.calls("StartSnapshot")).isEqualTo(starts);
      assertThat(aws.calls("RegisterImage")).isEqualTo(registers);
      assertThat(aws.calls("CopyImage")).isEqualTo(2);
      assertThat(p.find(appDigest))
          .hasValueSatisfying(f -> assertThat(f.imageId()).isEqualTo(a.ami().imageId()));
    }
    assertThat(aws.snapshots()).allSatisfy(s -> assertThat(s.status()).isEqualTo("completed"));
    assertThat(aws.authFailures()).isZero();
  }

  @Test
  void registrationOptionsFollowTheTarget() throws Exception {
    Ec2Target target =
        aws.target(REGION, "secure")
            .tpm(true)
            .imdsV2Required(false)
            .volumeType("io2")
            .rootVolumeSizeGiB(8)
            .deleteOnTermination(false)
            .architecture("x86_64")
            .bootMode("uefi");
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 23);
    try (Ec2Clients clients = TestRetries.clients(target, 16)) {
      PublishResult r =
          publisher(clients)
              .publish(PublishRequest.of(disk, digest("tpm"), "k"), UploadListener.none());
      ImageInfo img = aws.image(r.ami().imageId()).orElseThrow();
      assertThat(img.tpmSupport()).isEqualTo("v2.0");
      assertThat(img.imdsSupport()).isNull();
      assertThat(img.architecture()).isEqualTo("x86_64");
      assertThat(img.bootMode()).isEqualTo("uefi");
      assertThat(img.blockDeviceMappings())
          .containsExactly(new LoopbackAws.Bdm("/dev/xvda", r.ami().snapshotId(), 8, false, "io2"));
    }
  }

  @Test
  void aRegisterImageFailureDeletesTheSnapshot() throws Exception {
    aws.failFromNow("RegisterImage", Fault.ACCESS_DENIED);
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 24);
    try (Ec2Clients clients = TestRetries.clients(aws.target(REGION, "web"), 16)) {
      assertThatThrownBy(
              () ->
                  publisher(clients)
                      .publish(PublishRequest.of(disk, digest("x"), "k"), UploadListener.none()))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("RegisterImage failed")
          .hasMessageContaining("deleted");
    }
    assertThat(aws.calls("StartSnapshot")).isEqualTo(1);
    assertNothingLeft();
  }

  @Test
  void aFailureAfterRegisterImageDeregistersTheAmiAndDeletesTheSnapshot() throws Exception {
    aws.failFromNow("ModifyImageAttribute", Fault.ACCESS_DENIED);
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 25);
    try (Ec2Clients clients = TestRetries.clients(aws.target(REGION, "web").share(ACCOUNT_A), 16)) {
      assertThatThrownBy(
              () ->
                  publisher(clients)
                      .publish(PublishRequest.of(disk, digest("x"), "k"), UploadListener.none()))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("deregistered");
    }
    assertThat(aws.deregisteredImages()).hasSize(1);
    assertNothingLeft();
  }

  @Test
  void aFatalUploadErrorRegistersNothing() throws Exception {
    aws.failNth("PutSnapshotBlock", Fault.ACCESS_DENIED, 3);
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 64 * MIB, 10, 26);
    try (Ec2Clients clients = TestRetries.clients(aws.target(REGION, "web"), 16)) {
      assertThatThrownBy(
              () ->
                  publisher(clients)
                      .publish(PublishRequest.of(disk, digest("x"), "k"), UploadListener.none()))
          .isInstanceOf(ImageStoreException.class);
    }
    assertThat(aws.calls("RegisterImage")).isZero();
    assertNothingLeft();
  }

  @Test
  void aLostRegisterImageAnswerIsAdoptedNotDuplicated() throws Exception {
    aws.failNth("RegisterImage", Fault.DROP_AFTER_PROCESSING, 1);
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 27);
    try (Ec2Clients clients = TestRetries.clients(aws.target(REGION, "web"), 16)) {
      PublishResult r =
          publisher(clients)
              .publish(PublishRequest.of(disk, digest("x"), "k"), UploadListener.none());
      assertThat(aws.calls("RegisterImage")).isEqualTo(2);
      assertThat(aws.images()).extracting(ImageInfo::imageId).containsExactly(r.ami().imageId());
    }
  }

  @Test
  void aNameTakenByAnotherImageIsAClearErrorAndLeavesNothing() throws Exception {
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 28);
    Digest d = digest("x");
    try (Ec2Clients clients = TestRetries.clients(aws.target(REGION, "web"), 16)) {
      Ec2Publisher p = publisher(clients);
      PublishResult first = p.publish(PublishRequest.of(disk, d, "k"), UploadListener.none());
      // someone removes the tags: the AMI no longer says which image it holds, but keeps the name
      clients
          .ec2()
          .deleteTags(
              b ->
                  b.resources(first.ami().imageId())
                      .tags(Tag.builder().key("kiln:digest").build()));
      assertThatThrownBy(() -> p.publish(PublishRequest.of(disk, d, "k"), UploadListener.none()))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("already exists")
          .hasMessageContaining(first.ami().imageId());
    }
    assertThat(aws.images()).hasSize(1);
    assertThat(aws.snapshots()).hasSize(1);
  }

  @Test
  void theSweepRemovesStaleInProgressLeftoversOnly() throws Exception {
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 29);
    try (Ec2Clients clients = TestRetries.clients(aws.target(REGION, "web"), 16)) {
      Ec2Publisher p = publisher(clients);
      AmiRegistrar reg = p.registrar();
      EbsSnapshotUploader up = p.uploader();
      // a published image: must survive
      PublishResult kept =
          p.noSweep().publish(PublishRequest.of(disk, digest("kept"), "k1"), UploadListener.none());
      // a bake that died after its upload: a completed snapshot tagged in-progress
      UploadResult dead1 =
          up.upload(
              SnapshotUpload.of(disk).tags(reg.snapshotTags(digest("dead1"), "k2")),
              UploadListener.none());
      // a bake that died during its upload: a pending snapshot tagged in-progress
      String dead2 =
          clients
              .ebs()
              .startSnapshot(
                  b ->
                      b.volumeSize(1L)
                          .tags(
                              software.amazon.awssdk.services.ebs.model.Tag.builder()
                                  .key("kiln:state")
                                  .value("in-progress")
                                  .build()))
              .snapshotId();
      // a bake that died after RegisterImage: an AMI and its snapshot tagged in-progress
      UploadResult dead3 =
          up.upload(
              SnapshotUpload.of(disk).tags(reg.snapshotTags(digest("dead3"), "k3")),
              UploadListener.none());
      String dead3Ami =
          clients
              .ec2()
              .registerImage(
                  b ->
                      b.name("web-dead3")
                          .rootDeviceName("/dev/xvda")
                          .architecture("x86_64")
                          .virtualizationType("hvm")
                          .blockDeviceMappings(rootOn(dead3.snapshotId()))
                          .tagSpecifications(
                              imageTags(
                                  Tag.builder().key("kiln:state").value("in-progress").build())))
              .imageId();
      // a bake running right now: recent, must survive
      UploadResult running =
          up.upload(
              SnapshotUpload.of(disk).tags(reg.snapshotTags(digest("running"), "k4")),
              UploadListener.none());
      for (String id : new String[] {dead1.snapshotId(), dead2, dead3.snapshotId(), dead3Ami}) {
        aws.backdate(id, Duration.ofHours(7));
      }

      // the next publication sweeps first (default age 6 h)
      PublishResult next =
          p.publish(PublishRequest.of(disk, digest("next"), "k5"), UploadListener.none());

      assertThat(next.sweep().deregisteredImages()).containsExactly(dead3Ami);
      assertThat(next.sweep().deletedSnapshots())
          .containsExactlyInAnyOrder(dead1.snapshotId(), dead2, dead3.snapshotId());
      assertThat(aws.snapshots())
          .extracting(SnapshotInfo::snapshotId)
          .containsExactlyInAnyOrder(
              kept.ami().snapshotId(), running.snapshotId(), next.ami().snapshotId());
      assertThat(aws.images())
          .extracting(ImageInfo::imageId)
          .containsExactlyInAnyOrder(kept.ami().imageId(), next.ami().imageId());
    }
  }

  @Test
  void anotherBakeInProgressForTheSameDigestIsNotTrampled() throws Exception {
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 30);
    Digest d = digest("busy");
    try (Ec2Clients clients = TestRetries.clients(aws.target(REGION, "web"), 16)) {
      Ec2Publisher p = publisher(clients);
      UploadResult u =
          p.uploader()
              .upload(
                  SnapshotUpload.of(disk).tags(p.registrar().snapshotTags(d, "k")),
                  UploadListener.none());
      clients
          .ec2()
          .registerImage(
              b ->
                  b.name("web-" + d.shortHex())
                      .rootDeviceName("/dev/xvda")
                      .architecture("x86_64")
                      .virtualizationType("hvm")
                      .blockDeviceMappings(rootOn(u.snapshotId()))
                      .tagSpecifications(
                          imageTags(
                              Tag.builder().key("kiln:digest").value(d.toString()).build(),
                              Tag.builder().key("kiln:state").value("in-progress").build())));
      int starts = aws.calls("StartSnapshot");
      assertThatThrownBy(() -> p.publish(PublishRequest.of(disk, d, "k"), UploadListener.none()))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("another bake");
      assertThat(aws.calls("StartSnapshot")).isEqualTo(starts);
    }
  }

  @Test
  void tooManyTagsAreRefusedBeforeUploading() throws Exception {
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 31);
    Map<String, String> inputs = new java.util.HashMap<>();
    for (int i = 0; i < 60; i++) {
      inputs.put("in" + i, "v");
    }
    try (Ec2Clients clients = TestRetries.clients(aws.target(REGION, "web"), 16)) {
      assertThatThrownBy(
              () ->
                  publisher(clients)
                      .publish(
                          PublishRequest.of(disk, digest("t"), "k").inputs(inputs),
                          UploadListener.none()))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("at most 50 tags");
    }
    assertThat(aws.calls("StartSnapshot")).isZero();
  }

  @Test
  void aFailedCopyLeavesThePublishedAmiAndTheNextBakeResumesIt() throws Exception {
    aws.failNth("CopyImage", Fault.ACCESS_DENIED, 1);
    Path disk = TestDisks.randomSparse(dir.resolve("d.raw"), 32 * MIB, 4, 32);
    Digest d = digest("copy");
    try (Ec2Clients clients =
        TestRetries.clients(aws.target(REGION, "web").copyTo("us-west-2"), 16)) {
      Ec2Publisher p = publisher(clients);
      assertThatThrownBy(() -> p.publish(PublishRequest.of(disk, d, "k"), UploadListener.none()))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("is published in " + REGION)
          .hasMessageContaining("resumes");
      assertThat(aws.images(REGION)).hasSize(1);
      PublishResult again = p.publish(PublishRequest.of(disk, d, "k"), UploadListener.none());
      assertThat(again.reused()).isTrue();
      assertThat(again.ami().copies()).containsOnlyKeys("us-west-2");
      assertThat(aws.images("us-west-2"))
          .singleElement()
          .satisfies(i -> assertThat(i.state()).isEqualTo("available"));
    }
  }

  static BlockDeviceMapping rootOn(String snapshotId) {
    return BlockDeviceMapping.builder()
        .deviceName("/dev/xvda")
        .ebs(EbsBlockDevice.builder().snapshotId(snapshotId).build())
        .build();
  }

  static TagSpecification imageTags(Tag... tags) {
    return TagSpecification.builder().resourceType(ResourceType.IMAGE).tags(tags).build();
  }

  private void assertNothingLeft() {
    assertThat(aws.images()).as("AMIs left").isEmpty();
    assertThat(aws.snapshots()).as("snapshots left").isEmpty();
  }
}
