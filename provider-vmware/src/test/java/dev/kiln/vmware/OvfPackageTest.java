package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

class OvfPackageTest {
  private static final String OVF = "http://schemas.dmtf.org/ovf/envelope/1";
  private static final String RASD =
      "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
  private static final String VMW = "http://www.vmware.com/schema/ovf";
  private static final Digest DIGEST = Digest.of("image".getBytes(StandardCharsets.UTF_8));
  private static final VmdkInfo DISK =
      new VmdkInfo(64L << 20, 123456, 3 * 65536, 3, "0badcafe", Digest.of(new byte[] {1}));

  @TempDir Path dir;

  @Test
  void descriptorMatchesTheGoldenFile() throws Exception {
    String ovf =
        OvfPackage.named("web")
            .cpus(4)
            .memoryMiB(4096)
            .network("VM Network")
            .annotation("Kiln image web\nlayers: 3 <base & app>")
            .product(OvfPackage.Product.of("web", "Kiln", "1.4"))
            .imageDigest(DIGEST)
            .descriptor(DISK, 123456);
    String golden;
    try (InputStream in = getClass().getResourceAsStream("/golden/web-nvme-efi.ovf")) {
      golden = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertThat(ovf).isEqualTo(golden.replace("@DIGEST@", DIGEST.toString()));
  }

  @Test
  void nvmeEfiDefaultsAreWhatVsphereExpects() throws Exception {
    Document d = parse(OvfPackage.named("web").imageDigest(DIGEST).descriptor(DISK, 123456));
    assertThat(
            text(
                d,
                "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData",
                "VirtualSystemType"))
        .containsExactly("vmx-14");
    Element controller = item(d, "3");
    assertThat(child(controller, "ResourceType")).isEqualTo("20");
    assertThat(child(controller, "ResourceSubType")).isEqualTo("vmware.nvme.controller");
    Element disk = item(d, "4");
    assertThat(child(disk, "Parent")).isEqualTo("3");
    assertThat(child(disk, "HostResource")).isEqualTo("ovf:/disk/vmdisk1");
    assertThat(config(d, "firmware")).isEqualTo("efi");
    assertThat(child(item(d, "1"), "VirtualQuantity")).isEqualTo("2");
    assertThat(child(item(d, "2"), "VirtualQuantity")).isEqualTo("2048");
    Element nic = item(d, "5");
    assertThat(child(nic, "Connection")).isEqualTo("VM Network");
    assertThat(child(nic, "ResourceSubType")).isEqualTo("VmxNet3");
    Element diskSection = (Element) d.getElementsByTagNameNS(OVF, "Disk").item(0);
    assertThat(diskSection.getAttributeNS(OVF, "capacity")).isEqualTo(Long.toString(64L << 20));
    assertThat(diskSection.getAttributeNS(OVF, "format")).endsWith("#streamOptimized");
    assertThat(diskSection.getAttributeNS(OVF, "populatedSize"))
        .isEqualTo(Long.toString(3 * 65536));
    assertRasdElementsInSchemaOrder(d);
  }

  @Test
  void pvscsiAndSataControllers() throws Exception {
    Document pv =
        parse(OvfPackage.named("a").diskController(DiskController.PVSCSI).descriptor(DISK, 1));
    assertThat(child(item(pv, "3"), "ResourceType")).isEqualTo("6");
    assertThat(child(item(pv, "3"), "ResourceSubType")).isEqualTo("VirtualSCSI");
    Document sata =
        parse(OvfPackage.named("a").diskController(DiskController.SATA).descriptor(DISK, 1));
    assertThat(child(item(sata, "3"), "ResourceType")).isEqualTo("20");
    assertThat(child(item(sata, "3"), "ResourceSubType")).isEqualTo("vmware.sata.ahci");
    assertRasdElementsInSchemaOrder(pv);
    assertRasdElementsInSchemaOrder(sata);
  }

  @Test
  void efiFirmwareAndNoNetwork() throws Exception {
    String xml = OvfPackage.named("a").firmware(Firmware.EFI).noNetwork().descriptor(DISK, 1);
    Document d = parse(xml);
    assertThat(config(d, "firmware")).isEqualTo("efi");
    assertThat(xml).doesNotContain("NetworkSection").contains("efiSecureBootEnabled");
    assertThat(d.getElementsByTagNameNS(RASD, "Connection").getLength()).isZero();
  }

  @Test
  void annotationIsEscapedAndEndsWithTheDigestLine() throws Exception {
    String text = "a <b> & \"c\"\nsecond line";
    OvfPackage p = OvfPackage.named("a").annotation(text).imageDigest(DIGEST);
    Document d = parse(p.descriptor(DISK, 1));
    String annotation = d.getElementsByTagNameNS(OVF, "Annotation").item(0).getTextContent();
    assertThat(annotation).isEqualTo(text + "\n\nKiln-Image-Digest: " + DIGEST);
    assertThat(DigestNote.find(annotation)).contains(DIGEST);
    assertThat(p.annotation()).isEqualTo(annotation);
  }

  @Test
  void badOptionsAreRefusedWithTheFix() {
    assertThatThrownBy(() -> OvfPackage.named("a b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> OvfPackage.named("a").memoryMiB(1001))
        .hasMessageContaining("multiple of 4");
    assertThatThrownBy(() -> OvfPackage.named("a").hardwareVersion("14"))
        .hasMessageContaining("vmx-14");
    assertThatThrownBy(() -> OvfPackage.named("a").hardwareVersion("vmx-11").descriptor(DISK, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("NVMe controller needs hardware version vmx-13");
    assertThat(
            OvfPackage.named("a")
                .hardwareVersion("vmx-11")
                .diskController(DiskController.PVSCSI)
                .descriptor(DISK, 1))
        .contains("vmx-11");
  }

  @Test
  void ovfDirectoryHasDescriptorManifestAndDisk() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 6L << 20, 4);
    OvfFiles files = OvfPackage.named("web").imageDigest(DIGEST).writeOvf(raw, dir.resolve("out"));

    assertThat(files.files())
        .extracting(PackagedFile::name)
        .containsExactly("web.ovf", "web.mf", "web-disk1.vmdk");
    for (PackagedFile f : files.files()) {
      Path p = files.path(f);
      assertThat(Files.size(p)).isEqualTo(f.size());
      assertThat(Digest.of(Files.readAllBytes(p))).isEqualTo(f.sha256());
    }
    String mf = Files.readString(files.path(files.manifest()));
    assertThat(mf)
        .isEqualTo(
            "SHA256(web.ovf)= "
                + files.descriptor().sha256().hex()
                + "\n"
                + "SHA256(web-disk1.vmdk)= "
                + files.vmdk().sha256().hex()
                + "\n");
    assertThat(Files.readString(files.path(files.descriptor())))
        .contains(
            "ovf:href=\"web-disk1.vmdk\" ovf:id=\"file1\" ovf:size=\""
                + files.vmdk().size()
                + "\"");
    try (Stream<Path> list = Files.list(dir.resolve("out"))) {
      assertThat(list.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("web.ovf", "web.mf", "web-disk1.vmdk");
    }
  }

  @Test
  void ovaIsAReproducibleUstarWithTheDescriptorFirst() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 6L << 20, 4);
    OvfPackage p =
        OvfPackage.named("web")
            .imageDigest(DIGEST)
            .modificationTime(Instant.ofEpochSecond(1700000000));
    OvaArchive one = p.writeOva(raw, dir.resolve("one/web.ova"));
    OvaArchive two = p.writeOva(raw, dir.resolve("two/web.ova"));

    byte[] bytes = Files.readAllBytes(one.file());
    assertThat(Files.readAllBytes(two.file())).isEqualTo(bytes);
    assertThat(one.sha256()).isEqualTo(Digest.of(bytes)).isEqualTo(two.sha256());
    assertThat(one.size()).isEqualTo(bytes.length);
    assertThat(new String(bytes, 257, 8, StandardCharsets.US_ASCII)).isEqualTo("ustar\u000000");

    List<String> names = new ArrayList<>();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(bytes))) {
      TarArchiveEntry e;
      int i = 0;
      while ((e = tar.getNextEntry()) != null) {
        names.add(e.getName());
        assertThat(e.getMode()).isEqualTo(0100644);
        assertThat(e.getLongUserId()).isZero();
        assertThat(e.getLongGroupId()).isZero();
        assertThat(e.getLastModifiedTime().toInstant())
            .isEqualTo(Instant.ofEpochSecond(1700000000));
        assertThat(e.getSize()).isEqualTo(one.entries().get(i).size());
        assertThat(Digest.of(tar.readAllBytes())).isEqualTo(one.entries().get(i).sha256());
        i++;
      }
    }
    assertThat(names).containsExactly("web.ovf", "web.mf", "web-disk1.vmdk");
    try (Stream<Path> list = Files.list(dir.resolve("one"))) {
      assertThat(list).containsExactly(one.file()); // the work directory is gone
    }
  }

  @Test
  void manifestSyntaxIsTheOneVsphereAccepts() {
    Digest d = Digest.of(new byte[0]);
    assertThat(OvfPackage.manifest(List.of(new PackagedFile("x.ovf", 0, d))))
        .isEqualTo(
            "SHA256(x.ovf)= e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n");
  }

  private static void assertRasdElementsInSchemaOrder(Document d) {
    NodeList items = d.getElementsByTagNameNS(OVF, "Item");
    for (int i = 0; i < items.getLength(); i++) {
      List<String> names = new ArrayList<>();
      for (Node n = items.item(i).getFirstChild(); n != null; n = n.getNextSibling()) {
        if (n instanceof Element e && RASD.equals(e.getNamespaceURI())) {
          names.add(e.getLocalName());
        }
      }
      assertThat(names).as("rasd elements of item %s", i).isSorted();
    }
  }

  private static Element item(Document d, String instanceId) {
    NodeList items = d.getElementsByTagNameNS(OVF, "Item");
    for (int i = 0; i < items.getLength(); i++) {
      Element e = (Element) items.item(i);
      if (instanceId.equals(child(e, "InstanceID"))) {
        return e;
      }
    }
    throw new AssertionError("no item " + instanceId);
  }

  private static String child(Element e, String rasd) {
    NodeList l = e.getElementsByTagNameNS(RASD, rasd);
    return l.getLength() == 0 ? null : l.item(0).getTextContent();
  }

  private static String config(Document d, String key) {
    NodeList l = d.getElementsByTagNameNS(VMW, "Config");
    for (int i = 0; i < l.getLength(); i++) {
      Element e = (Element) l.item(i);
      if (key.equals(e.getAttributeNS(VMW, "key"))) {
        return e.getAttributeNS(VMW, "value");
      }
    }
    return null;
  }

  private static List<String> text(Document d, String ns, String name) {
    List<String> out = new ArrayList<>();
    NodeList l = d.getElementsByTagNameNS(ns, name);
    for (int i = 0; i < l.getLength(); i++) {
      out.add(l.item(i).getTextContent());
    }
    return out;
  }

  private static Document parse(String xml) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    return f.newDocumentBuilder()
        .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
  }
}
