package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Target;
import dev.kiln.disk.DiskOptions;
import dev.kiln.testing.Tools;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vmdk:}, {@code ova:} and {@code ovf:} build their disk with the target's {@link
 * DiskOptions}, from {@code disk.NAME} parameters or from code: the VMDK's capacity (as qemu-img
 * reads it) and the OVF descriptor's disk capacity are the size they ask for.
 */
class VmwareDiskOptionsTest {
  static final long SIZE = 320L << 20; // the automatic size of this image would be 2 GiB
  @TempDir Path tmp;

  static ImageBuild dataImage() {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("etc")
                .content("/etc/hostname", "kiln\n".getBytes(StandardCharsets.UTF_8), 0644));
  }

  @Test
  void diskOptionsInTheStringReachTheVmdkAndTheOvf() throws Exception {
    String qemuImg = Tools.require("qemu-img", "qemu-utils");
    // without disk.dataOnly=true an image without a kernel is an error
    String disk = "?disk.dataOnly=true&disk.size=320M";
    Path vmdk = tmp.resolve("data.vmdk");
    Path ova = tmp.resolve("data.ova");
    Path ovf = tmp.resolve("ovf");
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      kiln.bake(dataImage(), "vmdk:" + vmdk + disk, "ova:" + ova + disk, "ovf:" + ovf + disk);
    }
    assertThat(virtualSize(qemuImg, vmdk)).isEqualTo(SIZE);
    Tools.run(qemuImg, "check", vmdk.toString()).ok();
    assertThat(ovaDescriptor(ova)).contains("<Disk ovf:capacity=\"" + SIZE + "\"");
    assertThat(Files.readString(ovf.resolve("ovf.ovf")))
        .contains("<Disk ovf:capacity=\"" + SIZE + "\"");
    assertThat(virtualSize(qemuImg, ovf.resolve("ovf-disk1.vmdk"))).isEqualTo(SIZE);
  }

  @Test
  void diskOptionsSetInCodeReachTheVmdkAndTheOvaAndGoIntoTheString() throws Exception {
    String qemuImg = Tools.require("qemu-img", "qemu-utils");
    DiskOptions options = DiskOptions.defaults().dataOnly(true).size(SIZE);
    VmwareFileTarget vmdk = VmwareFileTarget.vmdk(tmp.resolve("data.vmdk")).diskOptions(options);
    VmwareFileTarget ova = VmwareFileTarget.ova(tmp.resolve("data.ova")).diskOptions(options);
    assertThat(vmdk.toString())
        .isEqualTo("vmdk:" + tmp.resolve("data.vmdk") + "?disk.size=335544320&disk.dataOnly=true");
    assertThat(VmwareFileTarget.parse(Target.parse(vmdk.toString()))).isEqualTo(vmdk);
    assertThat(VmwareFileTarget.parse(Target.parse(ova.toString())).diskOptions())
        .isEqualTo(options);
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      kiln.bake(dataImage(), vmdk, ova);
    }
    assertThat(virtualSize(qemuImg, vmdk.path())).isEqualTo(SIZE);
    assertThat(ovaDescriptor(ova.path())).contains("<Disk ovf:capacity=\"" + SIZE + "\"");
  }

  static long virtualSize(String qemuImg, Path image) throws Exception {
    String json = Tools.run(qemuImg, "info", "--output=json", image.toString()).ok().output();
    return new ObjectMapper().readTree(json).path("virtual-size").asLong();
  }

  static String ovaDescriptor(Path ova) throws Exception {
    try (InputStream in = Files.newInputStream(ova);
        TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      TarArchiveEntry first = tar.getNextEntry();
      assertThat(first.getName()).endsWith(".ovf");
      return new String(tar.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
