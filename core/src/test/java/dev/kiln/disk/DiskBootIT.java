package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the disk of a Debian 12 rootfs (mmdebstrap, cloud kernel, systemd; cached by
 * scripts/disk/debian-rootfs.sh) plus an app layer with a systemd unit that prints a marker, and
 * boots it with qemu and OVMF from an NVMe device until the marker appears on the serial console.
 * Also measures the blocks an app layer changes against the base disk ({@link BootProof}).
 */
class DiskBootIT {
  private static final Logger log = LoggerFactory.getLogger(DiskBootIT.class);
  @TempDir Path tmp;

  @Test
  void debianDiskBootsAndPrintsTheMarker() throws Exception {
    Path rootfs = fixture();
    DiskBuilder builder =
        DiskBuilder.create(DiskOptions.defaults().kernelArgs("systemd.show_status=1"));

    BootProof.Disks d = BootProof.build(builder, rootfs, tmp, "KILN-BOOT-MARKER-");
    assertThat(d.base().kernel())
        .hasValueSatisfying(k -> assertThat(k).startsWith("/boot/vmlinuz-"));
    assertThat(d.base().initrd()).isPresent();

    long t0 = System.nanoTime();
    String console = boot(d.disk().path(), d.marker());
    long t1 = System.nanoTime();
    log.info(
        "Debian {}; boot to the marker under qemu-system-x86_64 (TCG) in {} s",
        d,
        (t1 - t0) / 1_000_000_000);
    assertThat(console).contains(d.marker());
  }

  static String boot(Path disk, String marker) throws IOException, InterruptedException {
    return dev.kiln.testing.Qemu.boot(disk, "raw", marker);
  }

  /** The cached Debian rootfs tarball, built on first use. */
  static Path fixture() throws IOException, InterruptedException {
    return dev.kiln.testing.Fixtures.debianWithKernel();
  }
}
