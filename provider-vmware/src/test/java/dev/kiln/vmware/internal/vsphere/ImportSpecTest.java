package dev.kiln.vmware.internal.vsphere;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;

class ImportSpecTest {
  private static final String RESPONSE =
      "<r xmlns=\"urn:vim25\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
          + " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><importSpec"
          + " xsi:type=\"VirtualMachineImportSpec\"><configSpec><name>web</name><guestId>otherGuest</guestId>"
          + "<annotation>old</annotation><files><vmPathName>[ds]</vmPathName></files><numCPUs>2</numCPUs><deviceChange><operation>add</operation><device"
          + " xsi:type=\"VirtualLsiLogicController\"><key>-1</key></device></deviceChange><extraConfig><key>a</key><value"
          + " xsi:type=\"xsd:string\">b &amp; c</value>"
          + "</extraConfig><nestedHVEnabled>false</nestedHVEnabled></configSpec><resPoolEntity"
          + " type=\"ResourcePool\">resgroup-1</resPoolEntity></importSpec></r>";

  @Test
  void withConfigPutsElementsInSchemaOrderAndKeepsTheRest() throws Exception {
    Element response = Dom.parse(RESPONSE.getBytes(StandardCharsets.UTF_8)).getDocumentElement();
    Element detached = Dom.detach(Dom.child(response, "importSpec").orElseThrow());
    ImportSpec original = new ImportSpec(detached, List.of(), List.of(), List.of());
    ImportSpec s = original.withConfig("new <notes>", "efi");
    assertThat(original.config("annotation")).contains("old"); // withConfig works on a copy

    StringBuilder out = new StringBuilder();
    s.writeAsSpec(out);
    assertThat(out.toString())
        .isEqualTo(
            "<spec"
                + " xsi:type=\"VirtualMachineImportSpec\"><configSpec><name>web</name><guestId>otherGuest</guestId><annotation>new"
                + " &lt;notes&gt;</annotation><files><vmPathName>[ds]</vmPathName></files>"
                + "<numCPUs>2</numCPUs><deviceChange><operation>add</operation><device"
                + " xsi:type=\"VirtualLsiLogicController\"><key>-1</key></device></deviceChange><extraConfig><key>a</key><value"
                + " xsi:type=\"xsd:string\">b &amp; c</value></extraConfig>"
                + "<firmware>efi</firmware><nestedHVEnabled>false</nestedHVEnabled></configSpec><resPoolEntity"
                + " type=\"ResourcePool\">resgroup-1</resPoolEntity></spec>");
  }
}
