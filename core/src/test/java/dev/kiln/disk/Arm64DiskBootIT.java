package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Platform;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.Qemu;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The arm64 boot proof: the disk of an arm64 Debian 12 rootfs (linux-image-cloud-arm64, systemd;
 * cached by {@code scripts/disk/debian-rootfs.sh arm64}) plus an app layer with a systemd unit that
 * prints a marker, built as base disk + extend, booted on QEMU's arm64 {@code virt} machine with
 * its EDK2 firmware from an NVMe device until the marker appears on the serial console (ttyAMA0).
 * Also measures the blocks the app layer changes against the base disk.
 */
class Arm64DiskBootIT {
  private static final Logger log = LoggerFactory.getLogger(Arm64DiskBootIT.class);
  @TempDir Path tmp;

  @Test
  void arm64DebianDiskBootsAndPrintsTheMarker() throws Exception {
    Fixtures.arm64GrubModules();
    Path rootfs = Fixtures.debianArm64WithKernel();
    String marker = "KILN-ARM64-BOOT-MARKER-" + Long.toHexString(new Random().nextLong());
    byte[] payload = new byte[5 << 20];
    new Random(42).nextBytes(payload);
    Path app =
        TestLayers.layer()
            .dir("etc")
            .dir("etc/systemd")
            .dir("etc/systemd/system")
            .file(
                "etc/systemd/system/kiln-marker.service",
                "[Unit]\nDescription=Kiln boot marker\n\n[Service]\nType=oneshot\n"
                    + "ExecStart=/bin/sh -c 'echo "
                    + marker
                    + " > /dev/console'\n\n"
                    + "[Install]\nWantedBy=multi-user.target\n")
            .dir("etc/systemd/system/multi-user.target.wants")
            .symlink(
                "etc/systemd/system/multi-user.target.wants/kiln-marker.service",
                "/etc/systemd/system/kiln-marker.service")
            .dir("opt")
            .dir("opt/app")
            .file("opt/app/payload.bin", 0644, 0, 0, payload)
            .write(tmp.resolve("app.tar.gz"));
    DiskBuilder builder =
        DiskBuilder.create(DiskOptions.defaults().kernelArgs("systemd.show_status=1"))
            .forPlatform(Platform.LINUX_ARM64);

    long t0 = System.nanoTime();
    DiskImage base = builder.build(List.of(rootfs), tmp.resolve("base.img"));
    long t1 = System.nanoTime();
    DiskImage disk = builder.extend(base.path(), List.of(app), tmp.resolve("disk.img"));
    long t2 = System.nanoTime();
    BlockDiff diff = BlockDiff.compare(base.path(), disk.path());

    assertThat(base.kernel()).hasValueSatisfying(k -> assertThat(k).contains("arm64"));
    assertThat(base.initrd()).isPresent();
    DiskBuilderTest.assertValid(disk);
    assertThat(DiskImage.architecture(disk.path())).isEqualTo(BootArchitecture.ARM64);
    assertThat(Tools.debugfs(disk, "cat /etc/systemd/system/kiln-marker.service")).contains(marker);
    assertThat(diff.changedBytes()).isLessThan(2L * payload.length);

    long t3 = System.nanoTime();
    String console = Qemu.bootArm64(disk.path(), "raw", marker, 600);
    long t4 = System.nanoTime();
    log.info(
        "arm64 Debian base disk {} in {} ms; extend with a {} byte app layer in {} ms; {};"
            + " changed bytes / app layer = {}; boot to the marker under qemu-system-aarch64 (TCG)"
            + " in {} s",
        DiskBuilder.human(base.size()),
        (t1 - t0) / 1_000_000,
        payload.length,
        (t2 - t1) / 1_000_000,
        diff,
        String.format("%.2f", diff.changedBytes() / (double) payload.length),
        (t4 - t3) / 1_000_000_000);
    assertThat(console).contains("Kiln: loading /boot/vmlinuz-").contains(marker);
  }
}
