package dev.kiln.vmware.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TlsTrustTest {
  @Test
  void thumbprintsAreNormalised() {
    String colons = "AB:CD:" + "00:".repeat(29) + "EF";
    TlsTrust a = TlsTrust.pinnedSha256(colons);
    TlsTrust b = TlsTrust.pinnedSha256(colons.replace(":", "").toLowerCase());
    assertThat(a).isEqualTo(b);
    assertThat(a.pinnedThumbprint()).contains("abcd" + "00".repeat(29) + "ef");
    assertThat(a.sslContext()).isNotNull();
    assertThat(TlsTrust.systemDefault().pinnedThumbprint()).isEmpty();
    assertThat(TlsTrust.systemDefault().sslContext()).isNotNull();
  }

  @Test
  void onlySha256IsAcceptedForVcenter() {
    assertThatThrownBy(() -> TlsTrust.pinnedSha256("ab".repeat(20)))
        .hasMessageContaining("64 hex digits");
    assertThatThrownBy(() -> TlsTrust.pinnedSha256("zz".repeat(32)))
        .hasMessageContaining("hex digits");
    assertThat(TlsTrust.pinnedHost("ab".repeat(20)).pinnedThumbprint())
        .contains("ab".repeat(20)); // ESXi SHA-1
  }

  @Test
  void credentialsComeFromTheEnvironmentAndHideThePassword() {
    Credentials c =
        Credentials.fromEnvironment(
            Map.of("KILN_VSPHERE_USER", "u@vsphere.local", "KILN_VSPHERE_PASSWORD", "s3cret"));
    assertThat(c.user()).isEqualTo("u@vsphere.local");
    assertThat(c.password()).isEqualTo("s3cret");
    assertThat(c.toString()).doesNotContain("s3cret");
    assertThatThrownBy(() -> Credentials.fromEnvironment(Map.of("KILN_VSPHERE_USER", "u")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("KILN_VSPHERE_PASSWORD");
  }
}
