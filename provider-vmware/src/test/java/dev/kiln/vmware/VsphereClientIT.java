package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.vmware.auth.Credentials;
import dev.kiln.vmware.auth.TlsTrust;
import dev.kiln.vmware.internal.vsphere.ImportSpec;
import dev.kiln.vmware.internal.vsphere.ManagedObject;
import dev.kiln.vmware.internal.vsphere.VsphereClient;
import dev.kiln.vmware.internal.vsphere.VsphereException;
import java.util.Map;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The project's own vSphere SOAP client against govmomi's simulator: TLS pinning, login, lookups,
 * import specs.
 */
class VsphereClientIT {
  @RegisterExtension static final Vcsim vcsim = new Vcsim();

  private VsphereClient client() throws Exception {
    return VsphereClient.connect(
        vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()));
  }

  @Test
  void connectsWithThePinnedThumbprint() throws Exception {
    try (VsphereClient vc = client()) {
      assertThat(vc.apiVersion()).isNotEmpty();
      assertThat(vc.fullName()).contains("VMware");
      assertThat(vc.findByInventoryPath("/DC0"))
          .contains(new ManagedObject("Datacenter", "datacenter-2"));
      assertThat(vc.findByInventoryPath("/DC0/vm/no-such-vm")).isEmpty();
      ManagedObject cluster = vc.findByInventoryPath("/DC0/host/DC0_C0").orElseThrow();
      assertThat(vc.resourcePoolOf(cluster).type()).isEqualTo("ResourcePool");
    }
  }

  @Test
  void aDifferentCertificateIsRefusedNamingBothThumbprints() {
    String wrong = "00".repeat(32);
    assertThatThrownBy(
            () ->
                VsphereClient.connect(
                    vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(wrong)))
        .isInstanceOf(SSLHandshakeException.class)
        .hasStackTraceContaining("thumbprint is " + vcsim.thumbprint())
        .hasStackTraceContaining("expected the pinned 00:00:00");
  }

  @Test
  void verificationIsOnByDefault() {
    assertThatThrownBy(
            () ->
                VsphereClient.connect(vcsim.host(), vcsim.credentials(), TlsTrust.systemDefault()))
        .isInstanceOf(SSLHandshakeException.class);
  }

  @Test
  void aWrongPasswordIsAnInvalidLoginFault() {
    assertThatThrownBy(
            () ->
                VsphereClient.connect(
                    vcsim.host(),
                    Credentials.of("kiln", "wrong"),
                    TlsTrust.pinnedSha256(vcsim.thumbprint())))
        .isInstanceOfSatisfying(
            VsphereException.class, e -> assertThat(e.is("InvalidLogin")).isTrue());
  }

  @Test
  void importSpecErrorsAreReported() throws Exception {
    // the simulator has no NVMe controller (resource type 20); real vCenter has. Its error list
    // must come through.
    String ovf =
        OvfPackage.named("nvme")
            .imageDigest(Digest.of(new byte[] {1}))
            .descriptor(
                new VmdkInfo(1 << 20, 1000, 65536, 1, "00000001", Digest.of(new byte[] {2})), 1000);
    try (VsphereClient vc = client()) {
      ManagedObject pool =
          vc.resourcePoolOf(vc.findByInventoryPath("/DC0/host/DC0_C0").orElseThrow());
      ManagedObject ds = vc.findByInventoryPath("/DC0/datastore/LocalDS_0").orElseThrow();
      ImportSpec spec = vc.createImportSpec(ovf, pool, ds, "nvme", Map.of());
      assertThat(spec.errors()).anySatisfy(e -> assertThat(e).contains("OvfUnsupportedType"));
    }
  }

  @Test
  void importSpecConfigCanBeSetInSchemaOrder() throws Exception {
    String ovf =
        OvfPackage.named("cfg")
            .diskController(DiskController.PVSCSI)
            .descriptor(
                new VmdkInfo(1 << 20, 1000, 65536, 1, "00000001", Digest.of(new byte[] {2})), 1000);
    try (VsphereClient vc = client()) {
      ManagedObject pool =
          vc.resourcePoolOf(vc.findByInventoryPath("/DC0/host/DC0_C0").orElseThrow());
      ManagedObject ds = vc.findByInventoryPath("/DC0/datastore/LocalDS_0").orElseThrow();
      ImportSpec spec = vc.createImportSpec(ovf, pool, ds, "cfg", Map.of());
      assertThat(spec.errors()).isEmpty();
      assertThat(spec.type()).isEqualTo("VirtualMachineImportSpec");
      assertThat(spec.fileItems())
          .singleElement()
          .satisfies(f -> assertThat(f.path()).isEqualTo("cfg-disk1.vmdk"));
      ImportSpec set = spec.withConfig("notes <&>", "efi");
      assertThat(set.config("annotation")).contains("notes <&>");
      assertThat(set.config("firmware")).contains("efi");
      assertThat(spec.config("firmware")).isEmpty(); // the original is untouched
    }
  }
}
