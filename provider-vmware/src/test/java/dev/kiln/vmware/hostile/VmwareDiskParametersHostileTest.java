package dev.kiln.vmware.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.InvalidTargetException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Target;
import dev.kiln.vmware.VmwareFileTarget;
import dev.kiln.vmware.VsphereTarget;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Bad {@code disk.NAME} parameters in {@code vmdk:}, {@code ova:}, {@code ovf:} and {@code
 * vsphere://} targets: the message every disk target gives, before anything is built or written.
 */
class VmwareDiskParametersHostileTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "disk.size=1000|disk.size=1000: disk size must be a positive multiple of 1 MiB: 1000",
        "disk.size=huge|disk.size= expects a size in bytes or with a unit K, M, G or T (512M, 8G), found 'huge'",
        "disk.freeSpace=-5|disk.freeSpace= expects a size in bytes",
        "disk.espSize=33M|ESP size must be a multiple of 1 MiB, at least 34 MiB: 34603008",
        "disk.consoles=off|disk.consoles= expects true or false, found 'off'",
        "disk.timestamp=-1|disk.timestamp=-1: timestamp out of range: -1",
        "disk.sizes=1G|unknown disk parameter 'disk.sizes': expected one of [disk.size,",
        "disk.dataOnly=true&disk.dataOnly=false|disk parameter 'disk.dataOnly' given twice",
      })
  void aBadDiskParameterIsRefusedBeforeAnythingIsWritten(String query, String message)
      throws Exception {
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(
                Layer.files("etc")
                    .content("/etc/hostname", "x\n".getBytes(StandardCharsets.UTF_8), 0644));
    for (String scheme : new String[] {"vmdk", "ova", "ovf"}) {
      Path out = tmp.resolve("out." + scheme);
      String target = scheme + ":" + out + "?" + query;
      assertThatThrownBy(() -> VmwareFileTarget.parse(Target.parse(target)))
          .isInstanceOf(InvalidTargetException.class)
          .hasMessageStartingWith(target + ": ")
          .hasMessageContaining(message);
      try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
        assertThatThrownBy(() -> kiln.bake(build, target))
            .isInstanceOf(InvalidTargetException.class)
            .hasMessageContaining(message);
      }
      assertThat(out).doesNotExist();
      assertThat(tmp.resolve("out." + scheme + "?" + query)).doesNotExist();
    }
    String vsphere = "vsphere://127.0.0.1:1/DC0/web?library=lib&datastore=ds&" + query;
    assertThatThrownBy(() -> VsphereTarget.parse(vsphere))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining(message);
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      // refused before any connection: nothing listens on port 1
      assertThatThrownBy(() -> kiln.bake(build, vsphere))
          .isInstanceOf(InvalidTargetException.class)
          .hasMessageContaining(message);
    }
  }
}
