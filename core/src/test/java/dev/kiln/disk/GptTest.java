package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GptTest {
  @TempDir Path tmp;

  private static Gpt gpt(long size) {
    return new Gpt(
        size,
        Ids.uuid("seed", "disk"),
        List.of(
            new Gpt.Partition(
                Gpt.ESP_TYPE, Ids.uuid("seed", "esp"), 2048, 2048 + 34 * 2048 - 1, "EFI system"),
            new Gpt.Partition(
                Gpt.ROOT_X86_64_TYPE,
                Ids.uuid("seed", "root"),
                2048 + 34 * 2048,
                size / 512 - 2048 - 1,
                "root")));
  }

  private Path write(Gpt g) throws IOException {
    Path disk = tmp.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(g.diskBytes());
    }
    try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.WRITE)) {
      g.write(ch);
    }
    return disk;
  }

  @Test
  void sgdiskAndSfdiskFindNoProblems() throws Exception {
    Gpt g = gpt(128L << 20);
    Path disk = write(g);

    Tools.Out sg = Tools.run("sgdisk", "--verify", disk.toString());
    assertThat(sg.out()).contains("No problems found");
    Tools.Out sf = Tools.run("sfdisk", "--verify", disk.toString());
    assertThat(sf.code()).as(sf.out()).isZero();
    Tools.Out dump = Tools.run("sfdisk", "--dump", disk.toString());
    assertThat(dump.out())
        .containsIgnoringCase("label-id: " + g.diskGuid())
        .containsIgnoringCase(
            "type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=" + Ids.uuid("seed", "esp"))
        .containsIgnoringCase(
            "type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=" + Ids.uuid("seed", "root"))
        .contains("name=\"root\"");
  }

  @Test
  void readsBackWhatItWrote() throws Exception {
    Gpt g = gpt(64L << 20);
    Path disk = write(g);
    try (FileChannel ch = FileChannel.open(disk)) {
      Gpt r = Gpt.read(ch);
      assertThat(r.diskGuid()).isEqualTo(g.diskGuid());
      assertThat(r.partitions()).isEqualTo(g.partitions());
      assertThat(r.primary()).isEqualTo(g.primary());
    }
  }

  @Test
  void aCorruptHeaderIsDetected() throws Exception {
    Path disk = write(gpt(64L << 20));
    try (FileChannel ch =
        FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      DiskFiles.writeFully(ch, java.nio.ByteBuffer.wrap(new byte[] {9}), 512 + 40);
      assertThatThrownBy(() -> Gpt.read(ch)).hasMessageContaining("GPT header CRC mismatch");
    }
  }

  @Test
  void overlappingPartitionsAreRefused() {
    UUID u = UUID.randomUUID();
    assertThatThrownBy(
            () ->
                new Gpt(
                    64L << 20,
                    u,
                    List.of(
                        new Gpt.Partition(Gpt.ESP_TYPE, u, 2048, 4095, "a"),
                        new Gpt.Partition(Gpt.ESP_TYPE, u, 4000, 8191, "b"))))
        .hasMessageContaining("overlaps");
  }

  @Test
  void guidsUseTheMixedEndianOrder() {
    UUID u = UUID.fromString("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    byte[] b = Ids.guidBytes(u);
    assertThat(b[0] & 0xff).isEqualTo(0x28);
    assertThat(b[3] & 0xff).isEqualTo(0xc1);
    assertThat(b[8] & 0xff).isEqualTo(0xba);
    assertThat(Ids.fromGuidBytes(b, 0)).isEqualTo(u);
  }
}
