package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Fat32Test {
  @TempDir Path tmp;

  @Test
  void fsckVfatFindsNoProblemsAndMtoolsReadsTheFilesBack() throws Exception {
    byte[] big = new byte[700_001];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) (i % 251);
    }
    byte[] img =
        new Fat32(64L << 20, 0x1234ABCD, 1_700_000_000L, 2048)
            .add("EFI/BOOT/BOOTX64.EFI", big)
            .add("EFI/BOOT/GRUB.CFG", "set x=1\n".getBytes(StandardCharsets.US_ASCII))
            .add("EMPTY.TXT", new byte[0])
            .image();
    Path f = Files.write(tmp.resolve("esp.img"), img);

    Tools.Out fsck = Tools.run("fsck.vfat", "-n", "-v", f.toString());
    assertThat(fsck.code()).as(fsck.out()).isZero();
    assertThat(fsck.out()).contains("32 bit entries").doesNotContainIgnoringCase("differ");
    Path out = tmp.resolve("out.efi");
    Tools.run("mcopy", "-n", "-i", f.toString(), "::/EFI/BOOT/BOOTX64.EFI", out.toString());
    assertThat(Files.readAllBytes(out)).isEqualTo(big);
    assertThat(Tools.run("mtype", "-i", f.toString(), "::/EFI/BOOT/GRUB.CFG").out())
        .isEqualTo("set x=1\n");
    assertThat(Tools.run("mdir", "-i", f.toString(), "::/").out())
        .contains("EMPTY")
        .contains("TXT");
    Tools.Out blkid = Tools.run("blkid", "-p", f.toString());
    assertThat(blkid.out()).contains("UUID=\"1234-ABCD\"").contains("TYPE=\"vfat\"");
  }

  @Test
  void theSameInputGivesTheSameBytes() {
    byte[] a =
        new Fat32(40L << 20, 7, 1, 2048).add("EFI/BOOT/BOOTX64.EFI", new byte[] {1, 2}).image();
    byte[] b =
        new Fat32(40L << 20, 7, 1, 2048).add("EFI/BOOT/BOOTX64.EFI", new byte[] {1, 2}).image();
    assertThat(a).isEqualTo(b);
  }

  @Test
  void refusesNamesThatAreNotShortAndTooSmallVolumes() {
    assertThatThrownBy(() -> new Fat32(64L << 20, 1, 1, 0).add("EFI/BOOT/bootx64.efi", new byte[1]))
        .hasMessageContaining("not an upper-case 8.3 FAT name");
    assertThatThrownBy(() -> new Fat32(16L << 20, 1, 1, 0).image())
        .hasMessageContaining("at least 65525 clusters");
  }
}
