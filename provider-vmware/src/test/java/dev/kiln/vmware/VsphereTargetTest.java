package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.InvalidTargetException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VsphereTargetTest {
  private static final String PIN = "AB:".repeat(31) + "AB";

  @Test
  void templateTarget() {
    VsphereTarget t =
        VsphereTarget.parse(
            "vsphere://vc.example:8443/DC1/vm/templates/linux/web?datastore=ds%201&pool=C1/Resources/batch&network=VM+Network&thumbprint="
                + PIN);
    assertThat(t.mode()).isEqualTo(VsphereTarget.Mode.TEMPLATE);
    assertThat(t.host()).isEqualTo("vc.example:8443");
    assertThat(t.datacenter()).isEqualTo("DC1");
    assertThat(t.folder()).contains("vm/templates/linux");
    assertThat(t.name()).isEqualTo("web");
    assertThat(t.datastore()).contains("ds 1");
    assertThat(t.pool()).contains("C1/Resources/batch");
    assertThat(t.network()).contains("VM Network");
    assertThat(t.thumbprint()).contains(PIN);
    assertThat(t.inventoryPath()).isEqualTo("/DC1/vm/templates/linux/web");
    assertThat(t.folderPath()).isEqualTo("/DC1/vm/templates/linux");
    assertThat(t.trust().pinnedThumbprint()).contains("ab".repeat(32));
  }

  @Test
  void theVmFolderIsTheDefault() {
    VsphereTarget t = VsphereTarget.parse("vsphere://vc/DC/web?datastore=ds&pool=C");
    assertThat(t.folder()).contains("vm");
    assertThat(t.inventoryPath()).isEqualTo("/DC/vm/web");
    assertThat(t.trust().pinnedThumbprint()).isEmpty();
  }

  @Test
  void libraryTarget() {
    VsphereTarget t = VsphereTarget.parse("vsphere://vc/DC/web?library=golden&datastore=ds");
    assertThat(t.mode()).isEqualTo(VsphereTarget.Mode.LIBRARY);
    assertThat(t.library()).contains("golden");
    assertThat(t.folder()).isEmpty();
    assertThat(t.name()).isEqualTo("web");
    assertThat(VsphereTarget.parse("vsphere://vc/DC/web?library=golden").datastore()).isEmpty();
  }

  @Test
  void canonicalFormRoundTrips() {
    String s =
        "vsphere://vc/DC/vm/a%20b/web?datastore=ds&pool=C&network=VM%20Network&thumbprint=" + PIN;
    VsphereTarget t = VsphereTarget.parse(s);
    assertThat(t.toString()).isEqualTo(s);
    assertThat(VsphereTarget.parse(t.toString())).isEqualTo(t);
    VsphereTarget typed =
        VsphereTarget.template("vc", "DC", "vm/a b", "web")
            .datastore("ds")
            .pool("C")
            .network("VM Network")
            .thumbprint(PIN);
    assertThat(typed).isEqualTo(t);
    assertThat(VsphereTarget.libraryItem("vc", "DC", "lib", "web").toString())
        .isEqualTo("vsphere://vc/DC/web?library=lib");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "vsphere://vc/DC/vm/web | needs datastore and pool",
        "vsphere://vc/DC/vm/web?datastore=ds | needs pool",
        "vsphere://vc/DC?datastore=ds&pool=C | no template name",
        "vsphere://vc/DC/templates/web?datastore=ds&pool=C | starts with 'vm'",
        "vsphere://vc/DC/vm/web?datastore=ds&pool=C&color=red | unknown option 'color'",
        "vsphere://vc/DC/vm/web?datastore=ds&datastore=x&pool=C | given twice",
        "vsphere://vc/DC/vm/web?datastore=&pool=C | has no value",
        "vsphere://user:pw@vc/DC/vm/web?datastore=ds&pool=C | credentials do not go in the target",
        "vsphere://vc/DC/vm/x/web?library=lib | no folder",
        "vsphere://vc/DC/vm//web?datastore=ds&pool=C | must be 1-80 characters",
        "vsphere://vc/DC/vm/web?datastore=ds&pool=C&thumbprint=12:34 | 64 hex digits",
        "vsphere:/vc/DC/vm/web | expected vsphere://",
        "ec2://eu-west-1/web | expected vsphere://",
      })
  void badTargetsSayWhatIsWrong(String uri, String message) {
    assertThatThrownBy(() -> VsphereTarget.parse(uri))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining(message);
  }

  @Test
  void aTypedTemplateTargetIsCheckedWhenPublishing() {
    VsphereTarget t = VsphereTarget.template("vc", "DC", "vm", "web");
    assertThatThrownBy(() -> VspherePublisher.to(t))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("datastore");
  }
}
