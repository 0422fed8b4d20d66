package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testing.MemoryRemoteCache;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The snapshot ids {@code ec2://} keeps in the remote cache: the entries are shared by every runner
 * of a fleet, so what is written stays the bytes earlier versions wrote, and what they wrote still
 * reads.
 */
class RemoteSnapshotsTest {
  static final String KEY =
      "sha256:4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a";
  final MemoryRemoteCache remote = new MemoryRemoteCache();
  final Ec2ImageStores.RemoteSnapshots snapshots = new Ec2ImageStores.RemoteSnapshots(remote);

  private String entry() {
    return new String(
        remote.entries.get("ec2-snapshots/eu-west-1." + KEY.substring("sha256:".length())),
        StandardCharsets.UTF_8);
  }

  private void put(String json) {
    remote.entries.put(
        "ec2-snapshots/eu-west-1." + KEY.substring("sha256:".length()),
        json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void anEntryIsWrittenAsBeforeAndReadsBack() {
    snapshots.record("eu-west-1", KEY, "snap-0123456789abcdef0");
    assertThat(entry())
        .isEqualTo(
            "{\"snapshotId\":\"snap-0123456789abcdef0\",\"region\":\"eu-west-1\",\"key\":\""
                + KEY
                + "\"}");
    assertThat(snapshots.find("eu-west-1", KEY)).contains("snap-0123456789abcdef0");
    assertThat(snapshots.find("us-east-1", KEY)).isEmpty();
  }

  @Test
  void anEntryWrittenByAnotherWriterStillReads() {
    put("{ \"key\" : \"" + KEY + "\",\n  \"snapshotId\" : \"snap-0abc\" }");
    assertThat(snapshots.find("eu-west-1", KEY)).contains("snap-0abc");
  }

  @Test
  void anEntryWithoutASnapshotIdIsAMiss() {
    for (String bad :
        new String[] {
          "{\"snapshotId\":\"ami-0abc\"}",
          "{\"snapshotId\":\"snap-XYZ\"}",
          "{\"snapshotId\":7}",
          "{\"region\":\"eu-west-1\"}",
          "[]",
          "not json"
        }) {
      put(bad);
      assertThat(snapshots.find("eu-west-1", KEY)).as(bad).isEmpty();
    }
  }
}
