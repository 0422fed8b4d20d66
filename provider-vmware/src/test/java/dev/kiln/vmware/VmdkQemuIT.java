package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.spi.Deflate;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kiln's VMDKs as qemu-img, an independent reader, sees them. Needs {@code qemu-img} (Debian:
 * qemu-utils).
 */
class VmdkQemuIT {
  private static final long MIB = 1 << 20;
  private static String qemuImg;

  @TempDir Path dir;

  @BeforeAll
  static void tools() {
    qemuImg = dev.kiln.testing.Tools.require("qemu-img", "qemu-utils");
  }

  @ParameterizedTest
  @ValueSource(longs = {5 * MIB, 3 * MIB + 4608, 64 * 1024 * 3 + 512, 40 * MIB + 12345 * 512})
  void qemuImgChecksAndFindsItIdenticalToTheRawDisk(long size) throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), size, size);
    Path vmdk = dir.resolve("disk.vmdk");
    VmdkWriter.defaults().write(raw, vmdk);

    assertThat(qemu("check", vmdk.toString())).contains("No errors were found on the image.");
    assertThat(qemu("compare", "-f", "raw", "-F", "vmdk", raw.toString(), vmdk.toString()))
        .contains("Images are identical.");
    String info = qemu("info", vmdk.toString());
    assertThat(info).contains("create type: streamOptimized").contains("compressed: true");
  }

  @Test
  void aVmdkDeflatedByKilnsJavaPortOfZlibChecksAndComparesEqual() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 5 * MIB + 4608, 13);
    Path vmdk = dir.resolve("java/disk.vmdk");
    VmdkWriter.defaults().deflate(Deflate.engine("java")).write(raw, vmdk);
    assertThat(qemu("check", vmdk.toString())).contains("No errors were found on the image.");
    assertThat(qemu("compare", "-f", "raw", "-F", "vmdk", raw.toString(), vmdk.toString()))
        .contains("Images are identical.");
    Path jdk = dir.resolve("jdk/disk.vmdk"); // the same name: the descriptor holds it
    VmdkWriter.defaults().deflate(Deflate.engine("jdk")).write(raw, jdk);
    assertThat(VmdkBytesTest.sha256(vmdk)).isEqualTo(VmdkBytesTest.sha256(jdk));
  }

  @Test
  void aRawDiskThatIsNotWholeSectorsComparesEqualToo() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("odd.raw"), 1_000_003, 9);
    Path vmdk = dir.resolve("odd.vmdk");
    VmdkWriter.defaults().write(raw, vmdk);
    assertThat(qemu("check", vmdk.toString())).contains("No errors were found on the image.");
    assertThat(qemu("compare", "-f", "raw", "-F", "vmdk", raw.toString(), vmdk.toString()))
        .contains("Images are identical.");
  }

  @Test
  void aSparseDiskGivesASmallVmdk() throws Exception {
    Path raw = TestDisks.sparse(dir.resolve("sparse.raw"), 1024 * MIB, 0, 4096, 600 * MIB, 70_000);
    Path vmdk = dir.resolve("sparse.vmdk");
    VmdkInfo info = VmdkWriter.defaults().write(raw, vmdk);
    assertThat(Files.size(vmdk)).isLessThan(256 * 1024);
    assertThat(info.grains()).isEqualTo(3);
    assertThat(qemu("check", vmdk.toString())).contains("No errors were found on the image.");
    assertThat(qemu("compare", "-f", "raw", "-F", "vmdk", raw.toString(), vmdk.toString()))
        .contains("Images are identical.");
  }

  @Test
  void twoWritesAreBitIdenticalAndNoLargerThanQemuImgsOwn() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 32 * MIB, 11);
    VmdkWriter.defaults().write(raw, dir.resolve("a/disk.vmdk"));
    VmdkWriter.defaults().threads(3).write(raw, dir.resolve("b/disk.vmdk"));
    assertThat(Files.readAllBytes(dir.resolve("b/disk.vmdk")))
        .isEqualTo(Files.readAllBytes(dir.resolve("a/disk.vmdk")));

    Path q = dir.resolve("qemu.vmdk");
    qemu(
        "convert",
        "-f",
        "raw",
        "-O",
        "vmdk",
        "-o",
        "subformat=streamOptimized",
        raw.toString(),
        q.toString());
    assertThat((double) Files.size(dir.resolve("a/disk.vmdk")))
        .isLessThanOrEqualTo(Files.size(q) * 1.05);
  }

  private static String qemu(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(qemuImg);
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
    assertThat(p.exitValue()).as("%s exit code; output:%n%s", cmd, out).isZero();
    return out;
  }
}
