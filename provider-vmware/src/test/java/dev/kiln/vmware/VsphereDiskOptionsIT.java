package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.disk.DiskOptions;
import dev.kiln.testing.Tools;
import dev.kiln.vmware.auth.Credentials;
import dev.kiln.vmware.auth.TlsTrust;
import dev.kiln.vmware.internal.vsphere.ContentLibraryClient;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vsphere://} builds its disk with the target's {@link DiskOptions}: a bake through the
 * engine with {@code disk.NAME} parameters in the URI gives a content library item (in the
 * simulator, which keeps library files) whose descriptor and VMDK have the size asked for.
 */
class VsphereDiskOptionsIT {
  @RegisterExtension static final Vcsim vcsim = new Vcsim();
  @TempDir Path tmp;

  @Test
  void diskOptionsInTheUriReachTheLibraryItem() throws Exception {
    String qemuImg = Tools.require("qemu-img", "qemu-utils");
    VsphereTarget item = vcsim.libraryItem("kiln-disk-options", "data");
    String uri = item + "&disk.dataOnly=true&disk.size=320M";
    assertThat(VsphereTarget.parse(uri).diskOptions())
        .isEqualTo(DiskOptions.defaults().dataOnly(true).size(VmwareDiskOptionsTest.SIZE));
    assertThat(VsphereTarget.parse(uri))
        .isEqualTo(item.diskOptions(VsphereTarget.parse(uri).diskOptions()));

    bakeInAChildProcess(uri);

    Credentials c = vcsim.credentials();
    try (ContentLibraryClient cl =
        ContentLibraryClient.connect(vcsim.host(), c, TlsTrust.pinnedSha256(vcsim.thumbprint()))) {
      String library = cl.findLibraries("kiln-disk-options").get(0);
      String id = cl.findItem(library, "data").orElseThrow();
      ByteArrayOutputStream ovf = new ByteArrayOutputStream();
      cl.download(id, "data.ovf", ovf);
      assertThat(ovf.toString(StandardCharsets.UTF_8))
          .contains("<Disk ovf:capacity=\"" + VmwareDiskOptionsTest.SIZE + "\"");
      Path vmdk = tmp.resolve("back.vmdk");
      try (OutputStream out = Files.newOutputStream(vmdk)) {
        cl.download(id, "data-disk1.vmdk", out);
      }
      assertThat(VmwareDiskOptionsTest.virtualSize(qemuImg, vmdk))
          .isEqualTo(VmwareDiskOptionsTest.SIZE);
    }
  }

  private void bakeInAChildProcess(String uri) throws Exception {
    Credentials c = vcsim.credentials();
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                BakeToTargetMain.class.getName(),
                tmp.resolve("store").toString(),
                uri));
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("bake.log").toFile());
    pb.environment().put(Credentials.USER_VARIABLE, c.user());
    pb.environment().put(Credentials.PASSWORD_VARIABLE, c.password());
    Process p = pb.start();
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
    }
    assertThat(p.exitValue()).as(Files.readString(tmp.resolve("bake.log"))).isZero();
  }
}
