package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.ImageStoreException;
import dev.kiln.ec2.LoopbackAws.Fault;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.ebs.model.AccessDeniedException;
import software.amazon.awssdk.services.ebs.model.ConflictException;
import software.amazon.awssdk.services.ebs.model.InternalServerException;
import software.amazon.awssdk.services.ebs.model.StartSnapshotResponse;

class EbsSnapshotUploaderTest {
  static final String REGION = "eu-west-1";
  static final int BLOCK = TestDisks.BLOCK;
  static final long GIB = TestDisks.GIB;

  @TempDir Path dir;
  LoopbackAws aws;
  Ec2Clients clients;
  EbsSnapshotUploader uploader;

  @BeforeEach
  void start() {
    aws = LoopbackAws.start();
    clients = TestRetries.clients(aws.target(REGION, "web"), 16);
    uploader = uploader(clients);
  }

  static EbsSnapshotUploader uploader(Ec2Clients clients) {
    return EbsSnapshotUploader.create(clients)
        .concurrency(8)
        .completionWait(Duration.ofSeconds(30), Duration.ofMillis(10));
  }

  @AfterEach
  void stop() {
    clients.close();
    aws.close();
  }

  @Test
  void fullUploadOfSparseDiskReadsBackByteIdentical() throws Exception {
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), GIB, 40, 1);
    Set<Integer> nonZero = TestDisks.nonZeroBlocks(disk);
    List<UploadProgress> progress = new CopyOnWriteArrayList<>();

    UploadResult r =
        uploader.upload(
            SnapshotUpload.of(disk)
                .description("kiln test")
                .tag("kiln:state", "in-progress")
                .tag("team", "platform"),
            progress::add);

    LoopbackAws.SnapshotInfo s = aws.snapshot(r.snapshotId()).orElseThrow();
    assertThat(s.status()).isEqualTo("completed");
    assertThat(s.volumeSizeGiB()).isEqualTo(1);
    assertThat(s.parentSnapshotId()).isEmpty();
    assertThat(s.description()).isEqualTo("kiln test");
    assertThat(s.tags())
        .containsEntry("kiln:state", "in-progress")
        .containsEntry("team", "platform")
        .containsEntry("kiln:upload", s.clientToken().orElseThrow());
    assertThat(s.timeoutMinutes()).isEqualTo(60);
    assertThat(s.clientToken()).hasValueSatisfying(t -> assertThat(t).startsWith("kiln-"));
    assertThat(s.completedWithChecksum()).isTrue();
    // zero blocks are not sent: exactly the non-zero blocks were written, one call each
    assertThat(s.writtenBlocks()).isEqualTo(nonZero);
    assertThat(aws.calls("PutSnapshotBlock")).isEqualTo(nonZero.size());
    assertThat(r.blocksSent()).isEqualTo(nonZero.size());
    assertThat(r.blocksSkippedZero()).isEqualTo(2048 - nonZero.size());
    assertThat(r.blocksSkippedUnchanged()).isZero();
    assertThat(r.bytesSent()).isEqualTo((long) nonZero.size() * BLOCK);
    assertThat(r.aggregateChecksum()).isPresent();

    Path back = dir.resolve("back.raw");
    aws.assembleDisk(r.snapshotId(), back, Files.size(disk));
    assertThat(TestDisks.mismatch(disk, back)).isEqualTo(-1L);

    Path viaSdk = dir.resolve("sdk.raw");
    assertThat(SdkReadBack.read(clients.ebs(), r.snapshotId(), viaSdk, Files.size(disk)))
        .isEqualTo(nonZero.size());
    assertThat(TestDisks.mismatch(disk, viaSdk)).isEqualTo(-1L);

    UploadProgress last = progress.get(progress.size() - 1);
    assertThat(last.bytesScanned()).isEqualTo(GIB);
    assertThat(last.bytesSent()).isEqualTo(r.bytesSent());
    assertThat(last.blocksSkipped()).isEqualTo(2048 - nonZero.size());
    for (int i = 1; i < progress.size(); i++) {
      assertThat(progress.get(i).bytesSent())
          .isGreaterThanOrEqualTo(progress.get(i - 1).bytesSent());
      assertThat(progress.get(i).bytesScanned())
          .isGreaterThanOrEqualTo(progress.get(i - 1).bytesScanned());
    }
    assertThat(aws.authFailures()).isZero();
  }

  @Test
  void incrementalUploadSendsExactlyTheBlocksThatDiffer() throws Exception {
    Path base = TestDisks.randomSparse(dir.resolve("base.raw"), 256 * TestDisks.MIB, 60, 2);
    UploadResult parent = uploader.upload(SnapshotUpload.of(base), UploadListener.none());
    int putsForParent = aws.calls("PutSnapshotBlock");

    Path app = TestDisks.sparseCopy(base, dir.resolve("app.raw"));
    Random r = new Random(3);
    TestDisks.writeRandom(
        app, 100 * TestDisks.MIB + 12345, 5 * (int) TestDisks.MIB, r); // a 5 MB app layer
    List<Integer> baseBlocks = List.copyOf(TestDisks.nonZeroBlocks(base));
    TestDisks.write(
        app, (long) baseBlocks.get(7) * BLOCK, new byte[BLOCK]); // a block that became zero
    TestDisks.write(
        app, (long) baseBlocks.get(9) * BLOCK + 100, new byte[] {1, 2, 3}); // a small edit
    Set<Integer> differing = TestDisks.differingBlocks(base, app);
    assertThat(differing).hasSizeBetween(11, 14);

    UploadResult child =
        uploader.upload(
            SnapshotUpload.of(app).parent(parent.snapshotId(), base), UploadListener.none());

    assertThat(child.parentSnapshotId()).contains(parent.snapshotId());
    assertThat(child.blocksSent()).isEqualTo(differing.size());
    assertThat(child.blocksSkippedUnchanged()).isEqualTo(512 - differing.size());
    assertThat(aws.calls("PutSnapshotBlock") - putsForParent).isEqualTo(differing.size());
    LoopbackAws.SnapshotInfo s = aws.snapshot(child.snapshotId()).orElseThrow();
    assertThat(s.parentSnapshotId()).contains(parent.snapshotId());
    assertThat(s.writtenBlocks()).isEqualTo(differing);

    Path back = dir.resolve("back.raw");
    aws.assembleDisk(child.snapshotId(), back, Files.size(app));
    assertThat(TestDisks.mismatch(app, back)).isEqualTo(-1L);
    Path viaSdk = dir.resolve("sdk.raw");
    SdkReadBack.read(clients.ebs(), child.snapshotId(), viaSdk, Files.size(app));
    assertThat(TestDisks.mismatch(app, viaSdk)).isEqualTo(-1L);

    // EBS's own view of the difference agrees
    Set<Integer> changed = new java.util.TreeSet<>();
    clients
        .ebs()
        .listChangedBlocksPaginator(
            b -> b.firstSnapshotId(parent.snapshotId()).secondSnapshotId(child.snapshotId()))
        .forEach(p -> p.changedBlocks().forEach(c -> changed.add(c.blockIndex())));
    assertThat(changed).isEqualTo(differing);
  }

  @Test
  void identicalDiskOverParentSendsNothing() throws Exception {
    Path base = TestDisks.randomSparse(dir.resolve("base.raw"), 64 * TestDisks.MIB, 10, 4);
    UploadResult parent = uploader.upload(SnapshotUpload.of(base), UploadListener.none());
    Path same = TestDisks.sparseCopy(base, dir.resolve("same.raw"));
    UploadResult child =
        uploader.upload(
            SnapshotUpload.of(same).parent(parent.snapshotId(), base), UploadListener.none());
    assertThat(child.blocksSent()).isZero();
    assertThat(child.aggregateChecksum()).isEmpty();
    assertThat(aws.snapshot(child.snapshotId()).orElseThrow().status()).isEqualTo("completed");
  }

  @Test
  void aDiskShorterThanItsParentReadsAsZerosPastItsEnd() throws Exception {
    Path base = TestDisks.randomSparse(dir.resolve("base.raw"), 64 * TestDisks.MIB, 4, 17);
    TestDisks.writeRandom(base, 60 * TestDisks.MIB, BLOCK, new Random(18));
    UploadResult parent = uploader.upload(SnapshotUpload.of(base), UploadListener.none());
    Path app = TestDisks.sparse(dir.resolve("app.raw"), 32 * TestDisks.MIB);
    TestDisks.writeRandom(app, 0, 4096, new Random(19));

    UploadResult child =
        uploader.upload(
            SnapshotUpload.of(app).parent(parent.snapshotId(), base), UploadListener.none());

    assertThat(child.blocksTotal()).isEqualTo(128);
    assertThat(aws.snapshot(child.snapshotId()).orElseThrow().writtenBlocks())
        .isEqualTo(TestDisks.differingBlocks(base, app))
        .contains(120);
    Path padded = TestDisks.sparseCopy(app, dir.resolve("padded.raw"));
    try (var ch =
        java.nio.channels.FileChannel.open(padded, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[1]), 64 * TestDisks.MIB - 1);
    }
    Path back = dir.resolve("back.raw");
    aws.assembleDisk(child.snapshotId(), back, 64 * TestDisks.MIB);
    assertThat(TestDisks.mismatch(padded, back)).isEqualTo(-1L);
  }

  @Test
  void volumeSizeIsTheDiskRoundedUpToGib() throws Exception {
    Path disk = TestDisks.sparse(dir.resolve("odd.raw"), GIB + 1000);
    TestDisks.writeRandom(disk, GIB, 1000, new Random(5)); // content in the last, partial block
    UploadResult r = uploader.upload(SnapshotUpload.of(disk), UploadListener.none());
    assertThat(r.volumeSizeGiB()).isEqualTo(2);
    assertThat(r.blocksTotal()).isEqualTo(2049);
    assertThat(aws.snapshot(r.snapshotId()).orElseThrow().writtenBlocks()).containsExactly(2048);
    Path back = dir.resolve("back.raw");
    aws.assembleDisk(r.snapshotId(), back, Files.size(disk));
    assertThat(TestDisks.mismatch(disk, back)).isEqualTo(-1L);
  }

  @Test
  void allZeroDiskCompletesWithNoBlocks() throws Exception {
    Path disk = TestDisks.sparse(dir.resolve("zero.raw"), 8 * TestDisks.MIB);
    UploadResult r = uploader.upload(SnapshotUpload.of(disk), UploadListener.none());
    assertThat(r.blocksSent()).isZero();
    assertThat(aws.calls("PutSnapshotBlock")).isZero();
    assertThat(aws.snapshot(r.snapshotId()).orElseThrow().status()).isEqualTo("completed");
  }

  @Test
  void startSnapshotIsIdempotentByClientToken() throws Exception {
    // the first StartSnapshot is processed but its answer is lost: the retry with the same token
    // gets the same one
    aws.failNth("StartSnapshot", Fault.DROP_AFTER_PROCESSING, 1);
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 16 * TestDisks.MIB, 4, 6);
    UploadResult r =
        uploader.upload(SnapshotUpload.of(disk).clientToken("kiln-token-1"), UploadListener.none());

    assertThat(aws.log("StartSnapshot"))
        .hasSize(2)
        .allSatisfy(c -> assertThat(c.params()).containsEntry("ClientToken", "kiln-token-1"));
    assertThat(aws.snapshots())
        .extracting(LoopbackAws.SnapshotInfo::snapshotId)
        .containsExactly(r.snapshotId());

    // the same token and parameters give the same snapshot; the same token with other parameters is
    // a conflict
    StartSnapshotResponse again =
        clients
            .ebs()
            .startSnapshot(
                b ->
                    b.volumeSize(1L)
                        .clientToken("kiln-token-1")
                        .timeout(60)
                        .tags(
                            software.amazon.awssdk.services.ebs.model.Tag.builder()
                                .key("kiln:upload")
                                .value("kiln-token-1")
                                .build()));
    assertThat(again.snapshotId()).isEqualTo(r.snapshotId());
    assertThatThrownBy(
            () -> clients.ebs().startSnapshot(b -> b.volumeSize(2L).clientToken("kiln-token-1")))
        .isInstanceOf(ConflictException.class);
  }

  @Test
  void aStartSnapshotWhoseAnswerWasLostIsFoundAndDeletedWhenTheRetryFails() throws Exception {
    aws.failNth("StartSnapshot", Fault.DROP_AFTER_PROCESSING, 1)
        .failNth("StartSnapshot", Fault.ACCESS_DENIED, 2);
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 16 * TestDisks.MIB, 4, 16);
    assertThatThrownBy(() -> uploader.upload(SnapshotUpload.of(disk), UploadListener.none()))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("created by an earlier attempt");
    assertThat(aws.snapshots()).isEmpty();
    assertThat(aws.deletedSnapshots()).hasSize(1);
  }

  @Test
  void serverErrorsThrottlingAndDroppedConnectionsAreRetriedToSuccess() throws Exception {
    aws.fail("PutSnapshotBlock", Fault.INTERNAL_ERROR, 3, 2)
        .failNth("PutSnapshotBlock", Fault.THROTTLED, 6)
        .failNth("PutSnapshotBlock", Fault.THROTTLING_EXCEPTION, 8)
        .failNth("PutSnapshotBlock", Fault.SERVICE_UNAVAILABLE, 10)
        .failNth("PutSnapshotBlock", Fault.DROP_CONNECTION, 12)
        .failNth("PutSnapshotBlock", Fault.DROP_AFTER_PROCESSING, 14)
        .failNth("PutSnapshotBlock", Fault.CONCURRENT_LIMIT, 16)
        .failNth("CompleteSnapshot", Fault.THROTTLED, 1)
        .failNth("StartSnapshot", Fault.INTERNAL_ERROR, 1)
        .failNth("DescribeSnapshots", Fault.THROTTLED, 1);
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 256 * TestDisks.MIB, 30, 7);
    Set<Integer> nonZero = TestDisks.nonZeroBlocks(disk);

    UploadResult r = uploader.upload(SnapshotUpload.of(disk), UploadListener.none());

    assertThat(r.retries()).isEqualTo(11);
    assertThat(aws.calls("PutSnapshotBlock")).isEqualTo(nonZero.size() + 8);
    assertThat(aws.snapshots()).hasSize(1);
    Path back = dir.resolve("back.raw");
    aws.assembleDisk(r.snapshotId(), back, Files.size(disk));
    assertThat(TestDisks.mismatch(disk, back)).isEqualTo(-1L);
  }

  @Test
  void fatalErrorMidUploadDeletesTheSnapshot() throws Exception {
    aws.failNth("PutSnapshotBlock", Fault.ACCESS_DENIED, 5);
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 256 * TestDisks.MIB, 30, 8);

    assertThatThrownBy(() -> uploader.upload(SnapshotUpload.of(disk), UploadListener.none()))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("the snapshot was deleted")
        .hasRootCauseInstanceOf(AccessDeniedException.class);

    assertNoSnapshotLeft();
    assertThat(aws.calls("CompleteSnapshot")).isZero();
  }

  @Test
  void exhaustedRetriesDeleteTheSnapshot() throws Exception {
    aws.failFromNow("PutSnapshotBlock", Fault.INTERNAL_ERROR);
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 32 * TestDisks.MIB, 5, 9);

    try (Ec2Clients threeAttempts =
        Ec2Clients.create(aws.target(REGION, "web"), 16, TestRetries.fast(3))) {
      assertThatThrownBy(
              () -> uploader(threeAttempts).upload(SnapshotUpload.of(disk), UploadListener.none()))
          .isInstanceOf(ImageStoreException.class)
          .hasRootCauseInstanceOf(InternalServerException.class);
    }
    assertNoSnapshotLeft();
  }

  @Test
  void failedCompletionDeletesTheSnapshot() throws Exception {
    aws.failNth("CompleteSnapshot", Fault.ACCESS_DENIED, 1);
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 32 * TestDisks.MIB, 5, 10);
    assertThatThrownBy(() -> uploader.upload(SnapshotUpload.of(disk), UploadListener.none()))
        .isInstanceOf(ImageStoreException.class);
    assertNoSnapshotLeft();
  }

  @Test
  void theCompletionWaitIsBounded() throws Exception {
    aws.setCompletionPolls(1_000_000);
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 32 * TestDisks.MIB, 5, 11);
    assertThatThrownBy(
            () ->
                uploader
                    .completionWait(Duration.ofMillis(300), Duration.ofMillis(20))
                    .upload(SnapshotUpload.of(disk), UploadListener.none()))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("still pending");
    assertNoSnapshotLeft();
  }

  @Test
  void anInterruptStopsTheUploadAndDeletesTheSnapshot() throws Exception {
    aws.fail("PutSnapshotBlock", Fault.THROTTLED, 3, 1000); // keep it busy
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 64 * TestDisks.MIB, 20, 12);
    Thread me = Thread.currentThread();
    try (Ec2Clients patient =
        Ec2Clients.create(
            aws.target(REGION, "web"), 16, TestRetries.endless(1000, Duration.ofMillis(5)))) {
      assertThatThrownBy(
              () ->
                  uploader(patient)
                      .upload(
                          SnapshotUpload.of(disk),
                          p -> {
                            if (p.retries() > 5) {
                              me.interrupt();
                            }
                          }))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("interrupted");
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertNoSnapshotLeft();
  }

  @Test
  void aParentDiskLargerThanItsSnapshotIsRefusedBeforeStarting() throws Exception {
    Path small = TestDisks.randomSparse(dir.resolve("small.raw"), 16 * TestDisks.MIB, 2, 13);
    UploadResult parent = uploader.upload(SnapshotUpload.of(small), UploadListener.none());
    Path big = TestDisks.sparse(dir.resolve("big.raw"), 2 * GIB);
    assertThatThrownBy(
            () ->
                uploader.upload(
                    SnapshotUpload.of(big).parent(parent.snapshotId(), big), UploadListener.none()))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("not that snapshot's disk");
    assertThat(aws.calls("StartSnapshot")).isEqualTo(1);
  }

  @Test
  void aMissingParentIsRefusedBeforeStarting() throws Exception {
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 16 * TestDisks.MIB, 2, 14);
    assertThatThrownBy(
            () ->
                uploader.upload(
                    SnapshotUpload.of(disk).parent("snap-0123456789abcdef0", disk),
                    UploadListener.none()))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("does not exist");
    assertThat(aws.calls("StartSnapshot")).isZero();
  }

  @Test
  void everyRequestIsSigV4SignedForItsService() throws Exception {
    Path disk = TestDisks.randomSparse(dir.resolve("disk.raw"), 16 * TestDisks.MIB, 3, 15);
    uploader.upload(SnapshotUpload.of(disk), UploadListener.none());
    assertThat(aws.authFailures()).isZero();
    assertThat(aws.log()).extracting(LoopbackAws.Call::region).containsOnly(REGION);

    Ec2Target wrong =
        Ec2Target.of(REGION, "web")
            .endpoint(aws.endpoint())
            .credentials(
                software.amazon.awssdk.auth.credentials.StaticCredentialsProvider.create(
                    software.amazon.awssdk.auth.credentials.AwsBasicCredentials.create(
                        LoopbackAws.ACCESS_KEY, "wrong")));
    try (Ec2Clients bad = Ec2Clients.create(wrong)) {
      assertThatThrownBy(
              () ->
                  EbsSnapshotUploader.create(bad)
                      .upload(SnapshotUpload.of(disk), UploadListener.none()))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("StartSnapshot failed");
    }
    assertThat(aws.authFailures()).isEqualTo(1);
    assertThat(aws.authFailureMessages().get(0)).contains("SignatureDoesNotMatch");
  }

  private void assertNoSnapshotLeft() {
    assertThat(aws.snapshots()).as("snapshots left on the server").isEmpty();
    assertThat(aws.deletedSnapshots()).hasSize(aws.calls("StartSnapshot") > 0 ? 1 : 0);
  }

  static Map<String, String> tags(String... kv) {
    Map<String, String> m = new java.util.LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }
}
