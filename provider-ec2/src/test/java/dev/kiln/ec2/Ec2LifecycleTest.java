package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.RetentionReport;
import dev.kiln.ec2.LoopbackAws.ImageInfo;
import dev.kiln.ec2.LoopbackAws.SnapshotInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.LaunchPermission;
import software.amazon.awssdk.services.ec2.model.RegisterImageRequest;

/**
 * AMI retention against the loopback server, over two regions: old AMIs and their snapshots go,
 * shared and used ones stay with a reason, and a dry run changes nothing.
 */
class Ec2LifecycleTest {
  static final String EU = "eu-west-1";
  static final String US = "us-east-1";
  static final String OTHER_ACCOUNT = "123456789012";

  @TempDir Path dir;
  @Loopback LoopbackAws aws;

  /**
   * The registration of an AMI by hand (not by Kiln): {@code name}, booting from {@code snapshot}.
   */
  static RegisterImageRequest.Builder byHand(
      RegisterImageRequest.Builder r, String name, String snapshot) {
    return r.name(name)
        .architecture("x86_64")
        .virtualizationType("hvm")
        .rootDeviceName("/dev/xvda")
        .enaSupport(true)
        .bootMode("uefi")
        .blockDeviceMappings(
            BlockDeviceMapping.builder()
                .deviceName("/dev/xvda")
                .ebs(x -> x.snapshotId(snapshot).volumeSize(1))
                .build());
  }

  /** One image published to eu-west-1 and, when the target says so, copied to us-east-1. */
  record Published(String eu, String us, String euSnap, String usSnap) {}

  Published publish(Ec2Clients clients, String label, int seed) throws Exception {
    Ec2Publisher p = Ec2Publisher.create(clients);
    p =
        p.uploader(
                p.uploader()
                    .concurrency(4)
                    .completionWait(Duration.ofSeconds(30), Duration.ofMillis(10)))
            .registrar(
                p.registrar()
                    .waits(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMillis(10)))
            .noSweep();
    Path disk = TestDisks.randomSparse(dir.resolve(label + ".raw"), 4 * TestDisks.MIB, 2, seed);
    Digest digest = Digest.of(label.getBytes(StandardCharsets.UTF_8));
    PublishResult r =
        p.publish(PublishRequest.of(disk, digest, "key-" + label), UploadListener.none());
    String us = r.ami().copies().get(US); // null without a copy
    return new Published(
        r.ami().imageId(),
        us,
        r.ami().snapshotId(),
        us == null ? null : aws.image(us).orElseThrow().rootSnapshotId());
  }

  void age(Published p, Duration by) {
    aws.backdate(p.eu(), by);
    aws.backdate(p.us(), by.minusHours(1)); // the copy is a little younger than its source
  }

  static Map<String, String> reasons(List<RetentionReport.Item> items) {
    Map<String, String> m = new LinkedHashMap<>();
    items.forEach(i -> m.put(i.id(), i.reason()));
    return m;
  }

  static String id(String resource, String region) {
    return resource + " (" + region + ")";
  }

  @Test
  void oldAmisGoInBothRegionsSharedAndUsedOnesStayAndADryRunChangesNothing() throws Exception {
    Ec2Target target = aws.target(EU, "web").copyTo(US);
    try (Ec2Clients clients = TestRetries.clients(target, 8)) {
      Published a = publish(clients, "a", 1);
      Published b = publish(clients, "b", 2);
      Published c = publish(clients, "c", 3);
      Published d = publish(clients, "d", 4);
      Published e = publish(clients, "e", 5);
      age(a, Duration.ofDays(50));
      age(b, Duration.ofDays(40));
      age(c, Duration.ofDays(35));
      age(d, Duration.ofDays(2));
      Ec2Client eu = clients.ec2(EU);
      Ec2Client us = clients.ec2(US);

      // another image of another name: never looked at
      Published other;
      try (Ec2Clients db = TestRetries.clients(aws.target(EU, "database").copyTo(US), 8)) {
        other = publish(db, "other", 6);
      }
      aws.backdate(other.eu(), Duration.ofDays(90));

      // b is shared with another account in eu-west-1 (its copy is not)
      eu.modifyImageAttribute(
          r ->
              r.imageId(b.eu())
                  .launchPermission(
                      l -> l.add(LaunchPermission.builder().userId(OTHER_ACCOUNT).build())));
      // c's copy runs an instance in us-east-1; c is in version 2 of a launch template in eu-west-1
      String instance =
          us.runInstances(r -> r.imageId(c.us()).minCount(1).maxCount(1))
              .instances()
              .get(0)
              .instanceId();
      String lt =
          eu.createLaunchTemplate(
                  r ->
                      r.launchTemplateName("web-servers")
                          .launchTemplateData(t -> t.imageId(e.eu()).instanceType("t3.micro")))
              .launchTemplate()
              .launchTemplateId();
      eu.createLaunchTemplateVersion(
          r -> r.launchTemplateId(lt).launchTemplateData(t -> t.imageId(c.eu())));
      // a terminated instance does not hold a's AMI
      String gone =
          eu.runInstances(r -> r.imageId(a.eu()).minCount(1).maxCount(1))
              .instances()
              .get(0)
              .instanceId();
      eu.terminateInstances(r -> r.instanceIds(gone));
      // an AMI that is not Kiln's, registered from a's snapshot in us-east-1: that snapshot stays
      String foreign = us.registerImage(r -> byHand(r, "hand-made", a.usSnap())).imageId();

      List<ImageInfo> imagesBefore = aws.images();
      List<SnapshotInfo> snapshotsBefore = aws.snapshots();
      Ec2Lifecycle rules =
          Ec2Lifecycle.create(clients).keepNewest(1).keepYoungerThan(Duration.ofDays(30));

      // 1. a dry run lists what would go and changes nothing
      RetentionReport dry = rules.dryRun(true).run("web");
      assertThat(dry.dryRun()).isTrue();
      assertThat(dry.scope()).isEqualTo("ec2 eu-west-1,us-east-1 web");
      assertThat(reasons(dry.removed("ami")).keySet())
          .containsExactlyInAnyOrder(id(a.eu(), EU), id(a.us(), US), id(b.us(), US));
      assertThat(reasons(dry.removed("snapshot")).keySet())
          .containsExactlyInAnyOrder(id(a.euSnap(), EU), id(b.usSnap(), US));
      assertThat(aws.images()).hasSameSizeAs(imagesBefore);
      assertThat(aws.snapshots()).hasSameSizeAs(snapshotsBefore);
      assertThat(aws.deregisteredImages()).isEmpty();
      assertThat(aws.deletedSnapshots()).isEmpty();
      assertThat(aws.calls("DeregisterImage")).isZero();
      assertThat(aws.calls("DeleteSnapshot")).isZero();

      // 2. the run: the same, done
      long expectedBytes =
          (long) TestDisks.BLOCK
              * (aws.snapshot(a.euSnap()).orElseThrow().writtenBlocks().size()
                  + aws.snapshot(b.usSnap()).orElseThrow().writtenBlocks().size());
      RetentionReport run = rules.run("web");
      assertThat(run.dryRun()).isFalse();
      Map<String, String> removed = reasons(run.removed());
      assertThat(removed)
          .containsOnlyKeys(
              id(a.eu(), EU),
              id(a.us(), US),
              id(b.us(), US),
              id(a.euSnap(), EU),
              id(b.usSnap(), US))
          .containsEntry(id(a.eu(), EU), "older than 30 days, not among the newest 1")
          .containsEntry(id(a.euSnap(), EU), "of " + id(a.eu(), EU));
      Map<String, String> kept = reasons(run.kept());
      assertThat(kept)
          .containsEntry(id(e.eu(), EU), "newest 1, younger than 30 days")
          .containsEntry(id(e.us(), US), "newest 1, younger than 30 days")
          .containsEntry(id(d.eu(), EU), "younger than 30 days")
          .containsEntry(id(d.us(), US), "younger than 30 days")
          .containsEntry(id(b.eu(), EU), "shared with " + OTHER_ACCOUNT)
          .containsEntry(id(c.us(), US), "used by instance " + instance)
          .containsEntry(id(c.eu(), EU), "in launch template " + lt + " v2")
          .containsEntry(id(a.usSnap(), US), "snapshot used by kept " + foreign);
      assertThat(kept.keySet()).noneMatch(k -> k.contains(other.eu()) || k.contains(other.us()));
      assertThat(run.bytesFreed()).isEqualTo(expectedBytes).isPositive();

      // the server agrees: gone from DescribeImages, snapshots deleted, the rest untouched
      assertThat(aws.deregisteredImages()).containsExactlyInAnyOrder(a.eu(), a.us(), b.us());
      assertThat(aws.deletedSnapshots()).containsExactlyInAnyOrder(a.euSnap(), b.usSnap());
      assertThat(eu.describeImages(r -> r.owners("self")).images())
          .extracting(i -> i.imageId())
          .containsExactlyInAnyOrder(b.eu(), c.eu(), d.eu(), e.eu(), other.eu());
      assertThat(us.describeImages(r -> r.owners("self")).images())
          .extracting(i -> i.imageId())
          .containsExactlyInAnyOrder(c.us(), d.us(), e.us(), other.us(), foreign);
      assertThat(aws.snapshot(a.usSnap())).isPresent();
      assertThat(aws.snapshot(b.euSnap())).isPresent();

      // 3. a second run finds nothing more to do
      assertThat(rules.run("web").removed()).isEmpty();

      // 4. asked to, shared and used AMIs go too; a snapshot another AMI uses still stays
      RetentionReport all = rules.includeShared().force().run("web");
      assertThat(reasons(all.removed("ami")).keySet())
          .containsExactlyInAnyOrder(id(b.eu(), EU), id(c.eu(), EU), id(c.us(), US));
      assertThat(aws.image(c.us())).isEmpty();
      assertThat(aws.instances(US))
          .singleElement()
          .satisfies(i -> assertThat(i.state()).isEqualTo("running")); // instances are not touched
      assertThat(aws.snapshot(a.usSnap())).isPresent();
    }
  }

  @Test
  void aSnapshotWhoseDeletionFailedIsDeletedByTheNextRun() throws Exception {
    try (Ec2Clients clients = TestRetries.clients(aws.target(EU, "web").copyTo(US), 8)) {
      Published old = publish(clients, "old", 11);
      publish(clients, "new", 12);
      aws.failFromNow("DeleteSnapshot", LoopbackAws.Fault.ACCESS_DENIED);
      Ec2Lifecycle rules = Ec2Lifecycle.create(clients).keepNewest(1);

      // the AMI is deregistered, then the snapshot cannot be deleted: the run stops, saying so
      assertThatThrownBy(() -> rules.run("web"))
          .isInstanceOf(dev.kiln.ImageStoreException.class)
          .hasMessageContaining("already removed: ami " + id(old.eu(), EU));
      assertThat(aws.image(old.eu())).isEmpty();
      assertThat(aws.snapshot(old.euSnap()).orElseThrow().tags())
          .containsEntry("kiln:state", "retired");

      // a dry run lists it, the next run deletes it, and the copy's AMI and snapshot go as well
      aws.clearFaults();
      assertThat(reasons(rules.dryRun(true).run("web").removed()))
          .containsEntry(
              id(old.euSnap(), EU), "retired by an earlier run that could not delete it");
      assertThat(aws.snapshot(old.euSnap())).isPresent();
      RetentionReport again = rules.run("web");
      assertThat(reasons(again.removed()))
          .containsOnlyKeys(id(old.euSnap(), EU), id(old.us(), US), id(old.usSnap(), US))
          .containsEntry(
              id(old.euSnap(), EU), "retired by an earlier run that could not delete it");
      assertThat(aws.snapshot(old.euSnap())).isEmpty();
      assertThat(aws.snapshot(old.usSnap())).isEmpty();
      assertThat(rules.run("web").removed()).isEmpty();
    }
  }

  @Test
  void twoAmisThatGoAndShareASnapshotDeleteItOnce() throws Exception {
    try (Ec2Clients clients = TestRetries.clients(aws.target(EU, "web"), 8)) {
      Published old = publish(clients, "old", 21);
      publish(clients, "new", 22);
      // a second AMI of the name on the same snapshot (registered by hand, tagged as Kiln tags)
      String twin =
          clients
              .ec2()
              .registerImage(
                  r ->
                      byHand(r, "web-twin", old.euSnap())
                          .tagSpecifications(
                              t ->
                                  t.resourceType("image")
                                      .tags(
                                          tag("kiln:name", "web"),
                                          tag("kiln:state", "complete"),
                                          tag(
                                              "kiln:digest",
                                              Digest.of(new byte[] {7}).toString()))))
              .imageId();
      clients.ec2().describeImages(r -> r.imageIds(twin)); // pending, then available
      aws.backdate(old.eu(), Duration.ofDays(3));
      aws.backdate(twin, Duration.ofDays(2));

      RetentionReport r = Ec2Lifecycle.create(clients).keepNewest(1).run("web");
      assertThat(reasons(r.removed()))
          .containsOnlyKeys(id(old.eu(), EU), id(twin, EU), id(old.euSnap(), EU));
      assertThat(r.kept()).noneMatch(i -> i.kind().equals("snapshot"));
      assertThat(aws.snapshot(old.euSnap())).isEmpty();
    }
  }

  static software.amazon.awssdk.services.ec2.model.Tag tag(String k, String v) {
    return software.amazon.awssdk.services.ec2.model.Tag.builder().key(k).value(v).build();
  }

  @Test
  void theLoopbackServerRefusesToDeleteASnapshotAnAmiUses() throws Exception {
    try (Ec2Clients clients = TestRetries.clients(aws.target(EU, "web"), 4)) {
      Ec2Publisher p = Ec2Publisher.create(clients);
      p =
          p.uploader(p.uploader().completionWait(Duration.ofSeconds(30), Duration.ofMillis(10)))
              .registrar(
                  p.registrar()
                      .waits(
                          Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMillis(10)));
      Path disk = TestDisks.randomSparse(dir.resolve("x.raw"), 4 * TestDisks.MIB, 1, 9);
      PublishResult r =
          p.publish(
              PublishRequest.of(disk, Digest.of(new byte[] {1}), "key-x"), UploadListener.none());
      List<String> codes = new ArrayList<>();
      try {
        clients.ec2().deleteSnapshot(b -> b.snapshotId(r.ami().snapshotId()));
      } catch (AwsServiceException e) {
        codes.add(e.awsErrorDetails().errorCode());
      }
      assertThat(codes).containsExactly("InvalidSnapshot.InUse");
      clients.ec2().deregisterImage(b -> b.imageId(r.ami().imageId()));
      assertThat(clients.ec2().describeImages(b -> b.owners("self")).images()).isEmpty();
      clients.ec2().deleteSnapshot(b -> b.snapshotId(r.ami().snapshotId()));
      assertThat(aws.snapshot(r.ami().snapshotId())).isEmpty();
    }
  }
}
