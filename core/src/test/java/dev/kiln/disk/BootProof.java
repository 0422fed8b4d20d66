package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * What the boot proofs of both architectures ({@link DiskBootIT}, {@link Arm64DiskBootIT}) share: a
 * Debian rootfs's base disk, extended with an app layer whose systemd unit echoes a random marker
 * to {@code /dev/console} and which carries a 5 MiB payload, and the checks on that disk before it
 * boots: valid GPT, ext4 and ESP, the unit in the file system, and the layered layout (the app
 * layer changes under 2x its size in blocks against the base disk).
 */
final class BootProof {
  /** The app layer's payload: random bytes, so that no block of it is shared or compressed. */
  static final int PAYLOAD_BYTES = 5 << 20;

  private BootProof() {}

  /** The base and extended disks, the marker the extended one prints, and what it took. */
  record Disks(
      DiskImage base, DiskImage disk, BlockDiff diff, String marker, long buildMs, long extendMs) {
    /** Changed bytes against the app layer's payload (goal: under 2). */
    double ratio() {
      return diff.changedBytes() / (double) PAYLOAD_BYTES;
    }

    @Override
    public String toString() {
      return String.format(
          "base disk %s in %d ms; extend with a %d byte app layer in %d ms; %s;"
              + " changed bytes / app layer = %.2f",
          DiskBuilder.human(base.size()), buildMs, PAYLOAD_BYTES, extendMs, diff, ratio());
    }
  }

  /**
   * Builds {@code rootfs}'s base disk with {@code builder}, extends it with the marker layer and
   * checks the result (see the class comment). The disks are written under {@code tmp}.
   */
  static Disks build(DiskBuilder builder, Path rootfs, Path tmp, String markerPrefix)
      throws Exception {
    String marker = markerPrefix + Long.toHexString(new Random().nextLong());
    Path app = markerLayer(tmp.resolve("app.tar.gz"), marker);
    long t0 = System.nanoTime();
    DiskImage base = builder.build(List.of(rootfs), tmp.resolve("base.img"));
    long t1 = System.nanoTime();
    DiskImage disk = builder.extend(base.path(), List.of(app), tmp.resolve("disk.img"));
    long t2 = System.nanoTime();
    Disks d =
        new Disks(
            base,
            disk,
            BlockDiff.compare(base.path(), disk.path()),
            marker,
            (t1 - t0) / 1_000_000,
            (t2 - t1) / 1_000_000);

    DiskBuilderTest.assertValid(disk);
    assertThat(Tools.debugfs(disk, "cat /etc/systemd/system/kiln-marker.service")).contains(marker);
    assertThat(Tools.debugfs(disk, "stat /opt/app/payload.bin")).contains("Size: " + PAYLOAD_BYTES);
    assertThat(d.diff().changedBytes()).as(d.toString()).isLessThan(2L * PAYLOAD_BYTES);
    return d;
  }

  /** The app layer: a systemd unit, enabled, that echoes the marker, and a random payload. */
  static Path markerLayer(Path out, String marker) throws IOException {
    byte[] payload = new byte[PAYLOAD_BYTES];
    new Random(42).nextBytes(payload);
    return TestLayers.layer()
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
        .write(out);
  }
}
