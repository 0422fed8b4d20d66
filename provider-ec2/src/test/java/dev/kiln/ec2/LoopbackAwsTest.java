package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ebs.model.ChecksumAggregationMethod;
import software.amazon.awssdk.services.ebs.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.ebs.model.EbsException;
import software.amazon.awssdk.services.ebs.model.ResourceNotFoundException;
import software.amazon.awssdk.services.ebs.model.ValidationException;
import software.amazon.awssdk.services.ec2.model.Ec2Exception;
import software.amazon.awssdk.services.ec2.model.Filter;

/** The loopback server refuses what AWS refuses, in AWS's own error shapes. */
class LoopbackAwsTest {
  static final int BLOCK = LoopbackAws.BLOCK_SIZE;
  LoopbackAws aws;
  Ec2Clients clients;
  EbsClient ebs;

  @BeforeEach
  void start() {
    aws = LoopbackAws.start();
    clients = Ec2Clients.create(aws.target("eu-west-1", "test"), 4);
    ebs = clients.ebs();
  }

  @AfterEach
  void stop() {
    clients.close();
    aws.close();
  }

  static byte[] block(int seed) {
    byte[] b = new byte[BLOCK];
    new Random(seed).nextBytes(b);
    return b;
  }

  static String sha(byte[]... parts) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    for (byte[] p : parts) {
      md.update(p);
    }
    return Base64.getEncoder().encodeToString(md.digest());
  }

  static byte[] raw(byte[] b) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(b);
  }

  void put(String snap, int index, byte[] data, String checksum) {
    ebs.putSnapshotBlock(
        r ->
            r.snapshotId(snap)
                .blockIndex(index)
                .dataLength(data.length)
                .checksum(checksum)
                .checksumAlgorithm(ChecksumAlgorithm.SHA256),
        RequestBody.fromContentProvider(
            () -> new ByteArrayInputStream(data), data.length, "application/octet-stream"));
  }

  @Test
  void blocksMustBe512KibWithAMatchingChecksum() throws Exception {
    String snap = ebs.startSnapshot(r -> r.volumeSize(1L)).snapshotId();
    byte[] b = block(1);
    assertThatThrownBy(() -> put(snap, 0, b, sha(block(2))))
        .isInstanceOf(ValidationException.class)
        .hasMessageContaining("checksum");
    byte[] small = new byte[4096];
    assertThatThrownBy(() -> put(snap, 0, small, sha(small)))
        .isInstanceOf(ValidationException.class)
        .hasMessageContaining("524288");
    assertThatThrownBy(() -> put(snap, 2048, b, sha(b)))
        .isInstanceOf(ValidationException.class)
        .hasMessageContaining("outside the volume");
    assertThatThrownBy(() -> put("snap-00000000000000000", 0, b, sha(b)))
        .isInstanceOf(ResourceNotFoundException.class);
    put(snap, 0, b, sha(b));
    assertThat(aws.snapshot(snap).orElseThrow().writtenBlocks()).containsExactly(0);
  }

  @Test
  void completionChecksTheCountAndTheLinearAggregate() throws Exception {
    String snap = ebs.startSnapshot(r -> r.volumeSize(1L)).snapshotId();
    byte[] a = block(1);
    byte[] b = block(2);
    put(snap, 7, b, sha(b));
    put(snap, 3, a, sha(a));
    String linear = sha(raw(a), raw(b)); // ascending block index: 3 then 7
    String wrongOrder = sha(raw(b), raw(a));
    assertThatThrownBy(() -> complete(snap, 3, linear))
        .isInstanceOf(ValidationException.class)
        .hasMessageContaining("ChangedBlocksCount");
    assertThatThrownBy(() -> complete(snap, 2, wrongOrder))
        .isInstanceOf(ValidationException.class)
        .hasMessageContaining("aggregate checksum");
    complete(snap, 2, linear);
    assertThatThrownBy(() -> put(snap, 1, a, sha(a)))
        .isInstanceOf(ValidationException.class)
        .hasMessageContaining("pending");
    assertThat(aws.snapshot(snap).orElseThrow().completedWithChecksum()).isTrue();
  }

  /** Polls DescribeSnapshots until the snapshot is completed, as the uploader's waiter does. */
  void settle(String snap) {
    for (int i = 0; i < 10; i++) {
      if (clients
          .ec2()
          .describeSnapshots(r -> r.snapshotIds(snap))
          .snapshots()
          .get(0)
          .stateAsString()
          .equals("completed")) {
        return;
      }
    }
    throw new AssertionError(snap + " never completed");
  }

  void complete(String snap, int count, String checksum) {
    ebs.completeSnapshot(
        r ->
            r.snapshotId(snap)
                .changedBlocksCount(count)
                .checksum(checksum)
                .checksumAlgorithm(ChecksumAlgorithm.SHA256)
                .checksumAggregationMethod(ChecksumAggregationMethod.LINEAR));
  }

  @Test
  void unwrittenBlocksOfAChildReadFromItsParent() throws Exception {
    String parent = ebs.startSnapshot(r -> r.volumeSize(1L)).snapshotId();
    byte[] a = block(1);
    byte[] b = block(2);
    put(parent, 0, a, sha(a));
    put(parent, 1, a, sha(a));
    complete(parent, 2, sha(raw(a), raw(a)));
    assertThatThrownBy(() -> ebs.startSnapshot(r -> r.volumeSize(1L).parentSnapshotId(parent)))
        .as("a parent must be completed first")
        .isInstanceOf(ValidationException.class);
    settle(parent);
    String child = ebs.startSnapshot(r -> r.volumeSize(2L).parentSnapshotId(parent)).snapshotId();
    put(child, 1, b, sha(b));
    put(child, 2048, b, sha(b));
    assertThat(aws.readBlock(child, 0)).isEqualTo(a);
    assertThat(aws.readBlock(child, 1)).isEqualTo(b);
    assertThat(aws.readBlock(child, 2048)).isEqualTo(b);
    assertThat(aws.readBlock(child, 5)).isEqualTo(new byte[BLOCK]);
    assertThatThrownBy(
            () -> ebs.startSnapshot(r -> r.volumeSize(1L).parentSnapshotId(parent).encrypted(true)))
        .isInstanceOf(ValidationException.class)
        .hasMessageContaining("Encrypted");
  }

  @Test
  void unsignedAndWronglySignedRequestsGetAwsErrorShapes() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> ec2 =
        http.send(
            HttpRequest.newBuilder(aws.endpoint())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(
                    HttpRequest.BodyPublishers.ofString("Action=DescribeImages&Version=2016-11-15"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(ec2.statusCode()).isEqualTo(401);
    assertThat(ec2.body())
        .startsWith("<?xml")
        .contains("<Response><Errors><Error><Code>AuthFailure</Code>")
        .contains("<RequestID>");
    HttpResponse<String> ebsResp =
        http.send(
            HttpRequest.newBuilder(URI.create(aws.endpoint() + "/snapshots"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"VolumeSize\":1}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(ebsResp.statusCode()).isEqualTo(403);
    assertThat(ebsResp.headers().firstValue("x-amzn-ErrorType"))
        .contains("MissingAuthenticationTokenException");
    assertThat(ebsResp.body()).contains("\"Message\"");
    assertThat(aws.authFailures()).isEqualTo(2);

    // signed for the wrong service: an EC2 client whose requests are scoped to "ebs" is refused
    try (EbsClient wrongKey =
        EbsClient.builder()
            .region(Region.EU_WEST_1)
            .endpointOverride(aws.endpoint())
            .credentialsProvider(
                StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIAOTHER", "x")))
            .build()) {
      assertThatThrownBy(() -> wrongKey.startSnapshot(r -> r.volumeSize(1L)))
          .isInstanceOf(EbsException.class)
          .satisfies(
              e ->
                  assertThat(((EbsException) e).awsErrorDetails().errorCode())
                      .isEqualTo("UnrecognizedClientException"));
    }
    assertThat(aws.calls("StartSnapshot")).isZero();
  }

  @Test
  void ec2ErrorsAndFiltersBehaveLikeEc2() {
    assertThatThrownBy(() -> clients.ec2().describeImages(r -> r.imageIds("ami-00000000000000000")))
        .isInstanceOf(Ec2Exception.class)
        .satisfies(
            e ->
                assertThat(((Ec2Exception) e).awsErrorDetails().errorCode())
                    .isEqualTo("InvalidAMIID.NotFound"));
    assertThatThrownBy(
            () ->
                clients
                    .ec2()
                    .describeImages(
                        r -> r.filters(Filter.builder().name("colour").values("x").build())))
        .isInstanceOf(Ec2Exception.class)
        .hasMessageContaining("filter");
    assertThatThrownBy(
            () -> clients.ec2().deleteSnapshot(r -> r.snapshotId("snap-00000000000000000")))
        .isInstanceOf(Ec2Exception.class)
        .satisfies(
            e ->
                assertThat(((Ec2Exception) e).awsErrorDetails().errorCode())
                    .isEqualTo("InvalidSnapshot.NotFound"));
  }

  @Test
  void aSnapshotInUseByAnAmiCannotBeDeleted() throws Exception {
    String snap = ebs.startSnapshot(r -> r.volumeSize(1L)).snapshotId();
    byte[] a = block(1);
    put(snap, 0, a, sha(a));
    complete(snap, 1, sha(raw(a)));
    settle(snap);
    clients
        .ec2()
        .registerImage(
            r ->
                r.name("in-use")
                    .rootDeviceName("/dev/xvda")
                    .virtualizationType("hvm")
                    .architecture("x86_64")
                    .blockDeviceMappings(Ec2PublisherTest.rootOn(snap)));
    assertThatThrownBy(() -> clients.ec2().deleteSnapshot(r -> r.snapshotId(snap)))
        .isInstanceOf(Ec2Exception.class)
        .satisfies(
            e ->
                assertThat(((Ec2Exception) e).awsErrorDetails().errorCode())
                    .isEqualTo("InvalidSnapshot.InUse"));
    assertThatThrownBy(
            () ->
                clients
                    .ec2()
                    .registerImage(
                        r ->
                            r.name("in-use")
                                .rootDeviceName("/dev/xvda")
                                .virtualizationType("hvm")
                                .blockDeviceMappings(Ec2PublisherTest.rootOn(snap))))
        .isInstanceOf(Ec2Exception.class)
        .hasMessageContaining("already in use");
  }
}
