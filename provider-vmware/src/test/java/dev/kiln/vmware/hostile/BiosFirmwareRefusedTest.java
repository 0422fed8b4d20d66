package dev.kiln.vmware.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.vmware.Firmware;
import dev.kiln.vmware.OvfPackage;
import org.junit.jupiter.api.Test;

/**
 * The disks Kiln builds boot only with UEFI: a package that would start them with BIOS firmware is
 * refused.
 */
class BiosFirmwareRefusedTest {
  @Test
  void biosFirmwareIsRefusedNamingTheOption() {
    OvfPackage p = OvfPackage.named("web");
    assertThatThrownBy(() -> p.firmware(Firmware.BIOS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("firmware(BIOS) is not supported yet")
        .hasMessageContaining("UEFI");
    assertThat(p.firmware()).isEqualTo(Firmware.EFI);
    assertThat(p.firmware(Firmware.EFI).firmware()).isEqualTo(Firmware.EFI);
  }
}
