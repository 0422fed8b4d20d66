package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.Qemu;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One definition baked to {@code raw:}, {@code vmdk:} and {@code ova:} from one cached disk:
 * qemu-img finds the VMDK identical to the raw disk, and qemu boots the VMDK to the same marker.
 */
class VmdkBootIT {
  @TempDir Path tmp;

  @Test
  void vmdkOfTheBakedDiskBootsToTheMarker() throws Exception {
    Path rootfs = Fixtures.debianWithKernel();
    String qemuImg = dev.kiln.testing.Tools.require("qemu-img", "qemu-utils");
    String marker = "KILN-VMDK-" + Long.toHexString(new Random().nextLong());
    ImageBuild build =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(
                Layer.files("marker")
                    .content(
                        "/etc/systemd/system/kiln-marker.service",
                        ("[Unit]\nDescription=Kiln boot marker\n\n[Service]\nType=oneshot\n"
                                + "ExecStart=/bin/sh -c 'echo "
                                + marker
                                + " > /dev/console'\n\n[Install]\nWantedBy=multi-user.target\n")
                            .getBytes(),
                        0644)
                    .symlink(
                        "/etc/systemd/system/multi-user.target.wants/kiln-marker.service",
                        "/etc/systemd/system/kiln-marker.service"));
    Path raw = tmp.resolve("web.img");
    Path vmdk = tmp.resolve("web.vmdk");
    Path ova = tmp.resolve("web.ova");
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store")).build()) {
      BakeResult r = kiln.bake(build, "raw:" + raw, "vmdk:" + vmdk, "ova:" + ova);
      assertThat(r.published()).hasSize(3);
    }
    dev.kiln.testing.Tools.run(qemuImg, "check", vmdk.toString()).ok();
    assertThat(
            dev.kiln.testing.Tools.run(
                    qemuImg, "compare", "-f", "raw", "-F", "vmdk", raw.toString(), vmdk.toString())
                .ok()
                .output())
        .contains("Images are identical");
    assertThat(Files.size(vmdk)).isLessThan(Files.size(raw) / 2);
    assertThat(ova).exists();
    assertThat(Qemu.boot(vmdk, "vmdk", marker)).contains(marker);
  }
}
