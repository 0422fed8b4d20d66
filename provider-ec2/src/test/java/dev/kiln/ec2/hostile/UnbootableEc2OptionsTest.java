package dev.kiln.ec2.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.InvalidTargetException;
import dev.kiln.Kiln;
import dev.kiln.Target;
import dev.kiln.ec2.Ec2Target;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The disks Kiln builds boot x86-64 and arm64 machines with UEFI: an AMI registered as i386, for
 * Macs or for legacy BIOS would never boot, so those options are refused when the target is parsed,
 * naming the option, instead of after the upload.
 */
class UnbootableEc2OptionsTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @ValueSource(strings = {"arch=i386", "arch=arm64_mac", "arch=x86_64_mac"})
  void anArchitectureOtherThanX8664OrArm64IsRefused(String option) {
    assertThatThrownBy(() -> Ec2Target.parse("ec2://eu-west-1/web?" + option))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining(option + " is not supported")
        .hasMessageContaining("x86-64 and arm64 machines with UEFI")
        .hasMessageContaining("arch=arm64");
    String arch = option.substring("arch=".length());
    assertThatThrownBy(() -> Ec2Target.of("eu-west-1", "web").architecture(arch))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining(option);
  }

  @ParameterizedTest
  @ValueSource(strings = {"legacy-bios", "uefi-preferred"})
  void aBootModeOtherThanUefiIsRefused(String mode) {
    assertThatThrownBy(() -> Ec2Target.parse("ec2://eu-west-1/web?bootMode=" + mode))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("bootMode=" + mode + " is not supported yet");
    assertThatThrownBy(() -> Ec2Target.of("eu-west-1", "web").bootMode(mode))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("bootMode=" + mode);
  }

  @Test
  void aBakeWithSuchATargetFailsBeforeAnythingIsBuilt() throws Exception {
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThatThrownBy(
              () ->
                  kiln.bake(
                      dev.kiln.ImageBuild.from(dev.kiln.Base.scratch()),
                      "raw:" + tmp.resolve("d.img"),
                      "ec2://eu-west-1/web?arch=i386"))
          .isInstanceOf(InvalidTargetException.class)
          .hasMessageContaining("arch=i386");
    }
    assertThat(tmp.resolve("d.img")).doesNotExist();
  }

  @Test
  void theBootableOnesStillParse() {
    Ec2Target t = Ec2Target.parse("ec2://eu-west-1/web?arch=x86_64&bootMode=uefi");
    assertThat(t.architecture()).isEqualTo("x86_64");
    assertThat(t.bootMode()).isEqualTo("uefi");
    Ec2Target arm = Ec2Target.parse("ec2://eu-west-1/web?arch=arm64");
    assertThat(arm.architecture()).isEqualTo("arm64");
    assertThat(arm.platform()).isEqualTo(dev.kiln.Platform.LINUX_ARM64);
    assertThat(Ec2Target.parse(arm.toString()).architecture()).isEqualTo("arm64");
    assertThat(Ec2Target.from(Target.parse("ec2://eu-west-1/web")).architecture())
        .isEqualTo("x86_64");
  }
}
