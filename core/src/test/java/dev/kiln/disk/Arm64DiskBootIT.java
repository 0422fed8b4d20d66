package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Platform;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.Qemu;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The arm64 boot proof: the disk of an arm64 Debian 12 rootfs (minbase, linux-image-cloud-arm64,
 * systemd, no initramfs; cached by {@code scripts/disk/debian-rootfs.sh arm64}) plus an app layer
 * with a systemd unit that prints a marker, built as base disk + extend ({@link BootProof}), booted
 * on QEMU's arm64 {@code virt} machine with its EDK2 firmware from an NVMe device until the marker
 * appears on the serial console (ttyAMA0). The kernel mounts the root itself: its NVMe and ext4
 * drivers are built in and GRUB passes {@code root=PARTUUID=}. Part of the suite: on a fresh
 * machine the fixture takes a few minutes to build, the boot about a minute; a missing tool (qemu,
 * the firmware, mmdebstrap, arm64 emulation, GRUB's arm64 modules) fails the test under CI=true.
 */
// a bound for the whole test, fixture build included (qemu has its own, BOOT_TIMEOUT_SECONDS)
@Timeout(value = 20, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class Arm64DiskBootIT {
  private static final Logger log = LoggerFactory.getLogger(Arm64DiskBootIT.class);

  /** The boot's bound (qemu runs under {@code timeout}): about a minute on a loaded machine. */
  static final int BOOT_TIMEOUT_SECONDS = 300;

  @TempDir Path tmp;

  @Test
  void arm64DebianDiskBootsAndPrintsTheMarker() throws Exception {
    Fixtures.arm64GrubModules();
    Path rootfs = Fixtures.debianArm64WithKernel();
    DiskBuilder builder =
        DiskBuilder.create(DiskOptions.defaults().kernelArgs("systemd.show_status=1"))
            .forPlatform(Platform.LINUX_ARM64);

    BootProof.Disks d = BootProof.build(builder, rootfs, tmp, "KILN-ARM64-BOOT-MARKER-");
    assertThat(d.base().kernel()).hasValueSatisfying(k -> assertThat(k).contains("arm64"));
    assertThat(d.base().initrd()).isEmpty();
    assertThat(DiskImage.architecture(d.disk().path())).isEqualTo(BootArchitecture.ARM64);

    long t0 = System.nanoTime();
    String console = Qemu.bootArm64(d.disk().path(), "raw", d.marker(), BOOT_TIMEOUT_SECONDS);
    long t1 = System.nanoTime();
    log.info(
        "arm64 Debian {}; boot to the marker under qemu-system-aarch64 (TCG) in {} s",
        d,
        (t1 - t0) / 1_000_000_000);
    assertThat(console)
        .contains("Kiln: loading /boot/vmlinuz-")
        // no initramfs: the kernel mounted the root partition itself
        .contains("VFS: Mounted root (ext4 filesystem)")
        .contains(d.marker());
  }
}
