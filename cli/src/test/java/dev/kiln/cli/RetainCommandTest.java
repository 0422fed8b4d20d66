package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.ec2.Ec2Clients;
import dev.kiln.ec2.Ec2Publisher;
import dev.kiln.ec2.LoopbackAws;
import dev.kiln.ec2.PublishRequest;
import dev.kiln.ec2.UploadListener;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code kiln retain ec2://…} against the loopback AWS server. */
class RetainCommandTest {
  @TempDir Path dir;
  LoopbackAws aws;

  @BeforeEach
  void start() {
    aws = LoopbackAws.start();
    aws.setImagePolls(0);
    aws.setCompletionPolls(0);
    // the command takes credentials from the SDK's default chain, which reads these
    System.setProperty("aws.accessKeyId", LoopbackAws.ACCESS_KEY);
    System.setProperty("aws.secretAccessKey", LoopbackAws.SECRET_KEY);
  }

  @AfterEach
  void stop() {
    System.clearProperty("aws.accessKeyId");
    System.clearProperty("aws.secretAccessKey");
    aws.close();
  }

  private List<String> publishThree() throws IOException, Exception {
    List<String> amis = new ArrayList<>();
    try (Ec2Clients clients = Ec2Clients.create(aws.target("eu-west-1", "web"), 4)) {
      Ec2Publisher p = Ec2Publisher.create(clients).noSweep().concurrency(2);
      for (int n = 1; n <= 3; n++) {
        Path disk = dir.resolve(n + ".raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
          f.setLength(2L << 20);
          f.write(("disk " + n).getBytes(StandardCharsets.UTF_8));
        }
        Digest d = Digest.of(("image " + n).getBytes(StandardCharsets.UTF_8));
        String ami =
            p.publish(PublishRequest.of(disk, d, "key-" + n), UploadListener.none())
                .ami()
                .imageId();
        aws.backdate(ami, Duration.ofDays(10L * (4 - n))); // 1 is the oldest
        amis.add(ami);
      }
    }
    return amis;
  }

  @Test
  void aDryRunListsAndTheRunRemoves() throws Exception {
    List<String> amis = publishThree();
    String target = "ec2://eu-west-1/web?endpoint=" + aws.endpoint();

    CliRun dry = CliRun.kiln("retain", target, "--keep-newest", "1", "--dry-run");
    assertThat(dry.code()).as(dry.toString()).isZero();
    assertThat(dry.outLines())
        .contains(
            "would remove\tami\t" + amis.get(0) + " (eu-west-1)\tnot among the newest 1",
            "kept\tami\t" + amis.get(2) + " (eu-west-1)\tnewest 1");
    assertThat(dry.outLines().get(dry.outLines().size() - 1))
        .startsWith("ec2 eu-west-1 web: would remove 4 ");
    assertThat(aws.deregisteredImages()).isEmpty();

    CliRun run = CliRun.kiln("retain", target, "--keep-newest", "1", "--keep-days", "15");
    assertThat(run.code()).as(run.toString()).isZero();
    // 2 is 20 days old: neither the newest nor younger than 15 days
    assertThat(aws.deregisteredImages()).containsExactlyInAnyOrder(amis.get(0), amis.get(1));
    assertThat(aws.images("eu-west-1"))
        .singleElement()
        .satisfies(i -> assertThat(i.imageId()).isEqualTo(amis.get(2)));
  }

  @Test
  void withoutAKeepRuleOrWithOptionsOfTheOtherKindItIsAUsageError() {
    String target = "ec2://eu-west-1/web?endpoint=" + aws.endpoint();
    CliRun none = CliRun.kiln("retain", target);
    assertThat(none.code()).isEqualTo(Exit.USAGE);
    assertThat(none.err()).contains("--keep-newest K and/or --keep-days N");
    assertThat(CliRun.kiln("retain", target, "--keep-newest", "1", "--names", "web-*").code())
        .isEqualTo(Exit.USAGE);
    assertThat(CliRun.kiln("retain", "oci:/tmp/x", "--keep-newest", "1").code())
        .isEqualTo(Exit.USAGE);
    assertThat(aws.log()).isEmpty();
  }
}
