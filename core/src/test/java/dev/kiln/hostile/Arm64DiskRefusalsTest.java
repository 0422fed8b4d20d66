package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Platform;
import dev.kiln.disk.DiskBuilder;
import dev.kiln.disk.DiskException;
import dev.kiln.disk.DiskImage;
import dev.kiln.disk.DiskOptions;
import dev.kiln.disk.TestLayers;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.Tools;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an arm64 disk cannot be made from: a host without GRUB's arm64-efi modules, an image without
 * an arm64 kernel (none, or one for x86-64), a base disk of the other architecture, a platform
 * disks are not made for. Each is refused saying what to do, and no disk is left.
 */
class Arm64DiskRefusalsTest {
  private static final DiskOptions SMALL = DiskOptions.defaults().freeSpace(32L << 20).timestamp(1);

  @TempDir Path tmp;

  @BeforeEach
  void tools() throws Exception {
    Tools.require("mke2fs", "e2fsprogs");
    Tools.require("grub-mkimage", "grub-common");
    Fixtures.arm64GrubModules();
  }

  static byte[] kernel(String arch) {
    byte[] k = new byte[4096];
    k[0] = 'M';
    k[1] = 'Z';
    if (arch.equals("arm64")) {
      ByteBuffer.wrap(k, 56, 4).put("ARM".getBytes(StandardCharsets.US_ASCII)).put((byte) 0x64);
    } else {
      ByteBuffer.wrap(k, 514, 4).put("HdrS".getBytes(StandardCharsets.US_ASCII));
    }
    return k;
  }

  private Path rootfs(String name, String arch) throws Exception {
    return TestLayers.layer()
        .dir("boot")
        .file("boot/vmlinuz-6.1.0-10-cloud-" + arch, 0644, 0, 0, kernel(arch))
        .dir("etc")
        .file("etc/hostname", "kiln\n")
        .write(tmp.resolve(name));
  }

  private static DiskBuilder arm64() throws DiskException {
    return DiskBuilder.create(SMALL).forPlatform(Platform.LINUX_ARM64);
  }

  @Test
  void missingArm64GrubModulesSayHowToGetThem() throws Exception {
    Path empty = Files.createDirectories(tmp.resolve("no-modules"));
    String before = System.getProperty("kiln.grub.arm64-efi");
    DiskBuilder b;
    System.setProperty("kiln.grub.arm64-efi", empty.toString());
    try {
      b = arm64();
    } finally {
      System.setProperty("kiln.grub.arm64-efi", before);
    }
    assertThatThrownBy(b::checkHostTools)
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("the GRUB arm64-efi modules (" + empty + ")")
        .hasMessageContaining("grub-efi-arm64-bin:arm64")
        .hasMessageContaining("dpkg --add-architecture arm64")
        .hasMessageContaining("dpkg -x grub-efi-arm64-bin_*_arm64.deb DIR")
        .hasMessageContaining("KILN_GRUB_ARM64_EFI (or the system property kiln.grub.arm64-efi)");
    Path out = tmp.resolve("arm.img");
    assertThatThrownBy(() -> b.build(List.of(rootfs("arm.tar.gz", "arm64")), out))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("arm64-efi modules");
    assertThat(out).doesNotExist();
  }

  @Test
  void anArm64ImageWithAnX86KernelIsRefused() throws Exception {
    Path out = tmp.resolve("arm.img");
    assertThatThrownBy(() -> arm64().build(List.of(rootfs("x86.tar.gz", "amd64")), out))
        .isInstanceOf(DiskException.class)
        .hasMessage(
            "the kernel /boot/vmlinuz-6.1.0-10-cloud-amd64 is an amd64 kernel, but the image is for"
                + " linux/arm64 and so is its disk: install a kernel for arm64 in the image (on"
                + " Debian: linux-image-cloud-arm64)");
    assertThat(out).doesNotExist();
  }

  @Test
  void anAmd64ImageWithAnArm64KernelIsRefused() throws Exception {
    Path out = tmp.resolve("x86.img");
    assertThatThrownBy(
            () -> DiskBuilder.create(SMALL).build(List.of(rootfs("arm.tar.gz", "arm64")), out))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("is an arm64 kernel, but the image is for linux/amd64")
        .hasMessageContaining("linux-image-cloud-amd64");
    assertThat(out).doesNotExist();
  }

  @Test
  void anArm64ImageWithoutAKernelNamesTheArm64Package() throws Exception {
    Path noKernel =
        TestLayers.layer().dir("etc").file("etc/hostname", "kiln\n").write(tmp.resolve("n.tar"));
    Path out = tmp.resolve("arm.img");
    assertThatThrownBy(() -> arm64().build(List.of(noKernel), out))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("no kernel found in the image")
        .hasMessageContaining("linux-image-cloud-arm64");
    assertThat(out).doesNotExist();
  }

  @Test
  void aBaseDiskOfTheOtherArchitectureIsNotExtended() throws Exception {
    Path app = TestLayers.layer().dir("opt").file("opt/a", "a").write(tmp.resolve("app.tar"));
    DiskImage x86 =
        DiskBuilder.create(SMALL)
            .build(List.of(rootfs("x86.tar.gz", "amd64")), tmp.resolve("x86.img"));
    Path out = tmp.resolve("arm.img");
    assertThatThrownBy(() -> arm64().extend(x86.path(), List.of(app), out))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("is a linux/amd64 disk, but this builder makes linux/arm64 disks");
    assertThat(out).doesNotExist();
  }

  @Test
  void aPlatformWithoutDisksIsNamed() {
    assertThatThrownBy(() -> DiskBuilder.create(SMALL).forPlatform(Platform.parse("linux/riscv64")))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("linux/amd64 and linux/arm64 images, not for linux/riscv64");
  }
}
