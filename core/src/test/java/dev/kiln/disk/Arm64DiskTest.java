package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Platform;
import dev.kiln.testing.Fixtures;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * arm64 disks: GRUB's arm64-efi core image as {@code \EFI\BOOT\BOOTAA64.EFI}, the "Linux root
 * (ARM64)" partition type, the arm64 consoles, identifiers of their own, and the layered layout of
 * amd64 disks (extend == the definition, the ESP kept when the boot configuration does not change).
 */
class Arm64DiskTest {
  static final DiskOptions SMALL =
      DiskOptions.defaults().freeSpace(32L << 20).timestamp(1_700_000_000L);

  @TempDir Path tmp;
  Path base;
  Path app;

  /** The first bytes of an arm64 {@code Image}: "ARM\x64" at byte 56. */
  static byte[] arm64Kernel() {
    byte[] k = new byte[4096];
    k[0] = 'M';
    k[1] = 'Z';
    ByteBuffer.wrap(k, 56, 4).put("ARM".getBytes(StandardCharsets.US_ASCII)).put((byte) 0x64);
    return k;
  }

  @BeforeEach
  void layers() throws Exception {
    Fixtures.arm64GrubModules();
    base =
        TestLayers.layer()
            .dir("boot")
            .file("boot/vmlinuz-6.1.0-10-cloud-arm64", 0644, 0, 0, arm64Kernel())
            .file("boot/initrd.img-6.1.0-10-cloud-arm64", "not really an initramfs")
            .dir("etc")
            .file("etc/hostname", "kiln\n")
            .write(tmp.resolve("base.tar.gz"));
    app =
        TestLayers.layer()
            .dir("opt")
            .dir("opt/app")
            .file("opt/app/app.jar", 0640, 33, 33, new byte[] {1, 2, 3})
            .write(tmp.resolve("app.tar.gz"));
  }

  @Test
  void anArm64DiskBootsGrubArm64EfiFromAnArm64RootPartition() throws Exception {
    DiskBuilder b = DiskBuilder.create(SMALL).forPlatform(Platform.LINUX_ARM64);
    assertThat(b.platform()).isEqualTo(Platform.LINUX_ARM64);
    DiskImage d = b.build(List.of(base, app), tmp.resolve("arm.img"));
    DiskBuilderTest.assertValid(d);
    assertThat(d.kernel()).contains("/boot/vmlinuz-6.1.0-10-cloud-arm64");

    Tools.Out part = Tools.run("sgdisk", "-i", "2", d.path().toString());
    assertThat(part.out()).containsIgnoringCase("B921B045-1DF0-41C3-AF44-4C6F280D3FAE");
    byte[] efi = espFile(d, "EFI/BOOT/BOOTAA64.EFI");
    assertThat(efi).isNotNull();
    assertThat(espFile(d, "EFI/BOOT/BOOTX64.EFI")).isNull();
    assertThat(Kernel.architectureOf(efi)).isEqualTo("arm64");
    String text = new String(efi, StandardCharsets.ISO_8859_1);
    assertThat(text)
        .contains("linux /boot/vmlinuz-6.1.0-10-cloud-arm64 root=PARTUUID=" + d.rootPartition())
        .contains("rw console=ttyAMA0,115200 console=ttyS0,115200\n")
        .doesNotContain("console=tty0");
    assertThat(Tools.debugfs(d, "cat /opt/app/app.jar")).isNotEmpty();
  }

  @Test
  void theSameLayersGiveAnotherDiskForArm64AndTheSameBytesTwice() throws Exception {
    DiskBuilder arm = DiskBuilder.create(SMALL.dataOnly(true)).forPlatform(Platform.LINUX_ARM64);
    DiskBuilder amd = DiskBuilder.create(SMALL.dataOnly(true));
    DiskImage a1 = arm.build(List.of(app), tmp.resolve("a1.img"));
    DiskImage a2 = arm.build(List.of(app), tmp.resolve("a2.img"));
    DiskImage x = amd.build(List.of(app), tmp.resolve("x.img"));
    assertThat(Tools.sha256(a1.path())).isEqualTo(Tools.sha256(a2.path()));
    assertThat(a1.diskGuid()).isNotEqualTo(x.diskGuid());
    assertThat(a1.fsUuid()).isNotEqualTo(x.fsUuid());
    assertThat(DiskImage.architecture(a1.path())).isEqualTo(BootArchitecture.ARM64);
    assertThat(DiskImage.architecture(x.path())).isEqualTo(BootArchitecture.X86_64);
  }

  @Test
  void extendingAnArm64BaseKeepsItsEspAndGivesTheBytesOfTheDefinition() throws Exception {
    DiskBuilder b = DiskBuilder.create(SMALL).forPlatform(Platform.LINUX_ARM64);
    DiskImage baseDisk = b.build(List.of(base), tmp.resolve("base.img"));
    DiskImage extended = b.extend(baseDisk.path(), List.of(app), tmp.resolve("ext.img"));
    DiskImage defined = b.build(List.of(base, app), 1, tmp.resolve("def.img"));
    DiskBuilderTest.assertValid(extended);
    assertThat(Tools.sha256(extended.path())).isEqualTo(Tools.sha256(defined.path()));
    assertThat(espFile(extended, "EFI/BOOT/BOOTAA64.EFI"))
        .isEqualTo(espFile(baseDisk, "EFI/BOOT/BOOTAA64.EFI"));
    assertThat(DiskImage.architecture(extended.path())).isEqualTo(BootArchitecture.ARM64);
    assertThat(Tools.debugfs(extended, "stat /opt/app/app.jar")).contains("Size: 3");
  }

  @Test
  void kernelFormatsAreRecognised() throws Exception {
    assertThat(Kernel.architectureOf(arm64Kernel())).isEqualTo("arm64");
    byte[] bz = new byte[1024];
    ByteBuffer.wrap(bz, 514, 4).put("HdrS".getBytes(StandardCharsets.US_ASCII));
    assertThat(Kernel.architectureOf(bz)).isEqualTo("amd64");
    java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(gz)) {
      z.write(arm64Kernel());
    }
    assertThat(Kernel.architectureOf(gz.toByteArray())).isEqualTo("arm64");
    assertThat(Kernel.architectureOf("not really a kernel".getBytes(StandardCharsets.UTF_8)))
        .isNull();
  }

  static byte[] espFile(DiskImage d, String name) throws Exception {
    try (FileChannel ch = FileChannel.open(d.path())) {
      return Fat32.readFile(ch, d.espOffset(), name);
    }
  }
}
