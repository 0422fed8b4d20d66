package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the disk of a Debian 12 rootfs (mmdebstrap, cloud kernel, systemd; cached by
 * scripts/disk/debian-rootfs.sh) plus an app layer with a systemd unit that prints a marker, and
 * boots it with qemu and OVMF from an NVMe device until the marker appears on the serial console.
 * Also measures the blocks an app layer changes against the base disk.
 */
class DiskBootIT {
  private static final Logger log = LoggerFactory.getLogger(DiskBootIT.class);
  @TempDir Path tmp;

  @Test
  void debianDiskBootsAndPrintsTheMarker() throws Exception {
    Path rootfs = fixture();
    String marker = "KILN-BOOT-MARKER-" + Long.toHexString(new Random().nextLong());
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
        DiskBuilder.create(DiskOptions.defaults().kernelArgs("systemd.show_status=1"));

    long t0 = System.nanoTime();
    DiskImage base = builder.build(List.of(rootfs), tmp.resolve("base.img"));
    long t1 = System.nanoTime();
    DiskImage disk = builder.extend(base.path(), List.of(app), tmp.resolve("disk.img"));
    long t2 = System.nanoTime();
    BlockDiff diff = BlockDiff.compare(base.path(), disk.path());
    log.info(
        "Debian base disk {} in {} ms; extend with a {} byte app layer in {} ms; {}; changed bytes / app layer = {}",
        DiskBuilder.human(base.size()),
        (t1 - t0) / 1_000_000,
        payload.length,
        (t2 - t1) / 1_000_000,
        diff,
        String.format("%.2f", diff.changedBytes() / (double) payload.length));

    assertThat(base.kernel()).hasValueSatisfying(k -> assertThat(k).startsWith("/boot/vmlinuz-"));
    assertThat(base.initrd()).isPresent();
    DiskBuilderTest.assertValid(disk);
    assertThat(Tools.debugfs(disk, "cat /etc/systemd/system/kiln-marker.service")).contains(marker);
    assertThat(diff.changedBytes()).isLessThan(2L * payload.length);

    String console = boot(disk.path(), marker);
    assertThat(console).contains(marker);
  }

  static String boot(Path disk, String marker) throws IOException, InterruptedException {
    return dev.kiln.testing.Qemu.boot(disk, "raw", marker);
  }

  /** The cached Debian rootfs tarball, built on first use. */
  static Path fixture() throws IOException, InterruptedException {
    return dev.kiln.testing.Fixtures.debianWithKernel();
  }
}
