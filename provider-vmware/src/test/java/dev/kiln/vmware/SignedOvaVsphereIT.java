package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.SigningKey;
import dev.kiln.testing.Openssl;
import dev.kiln.testing.Tools;
import dev.kiln.vmware.auth.Credentials;
import dev.kiln.vmware.auth.TlsTrust;
import dev.kiln.vmware.internal.vsphere.ContentLibraryClient;
import dev.kiln.vmware.internal.vsphere.ManagedObject;
import dev.kiln.vmware.internal.vsphere.VmConfig;
import dev.kiln.vmware.internal.vsphere.VsphereClient;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A signed OVA (with its OVF certificate after the manifest) still imports into govmomi's vCenter
 * simulator, as a template and as a content library item (which keeps the certificate), and a
 * {@code vsphere://} bake needs no certificate: the signature belongs to OVA and OVF files.
 */
class SignedOvaVsphereIT {
  @RegisterExtension static final Vcsim vcsim = new Vcsim();

  @TempDir static Path dir;
  private static Digest digest;
  private static SigningKey key;
  private static OvaArchive ova;

  @BeforeAll
  static void signedOva() throws Exception {
    String openssl = Tools.require("openssl", "openssl");
    key = Openssl.certifiedKey(dir, "Kiln OVA test");
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 8L << 20, 42);
    digest = Digest.of("signed image".getBytes(StandardCharsets.UTF_8));
    ova =
        OvfPackage.named("kiln-signed")
            .cpus(2)
            .memoryMiB(1024)
            .diskController(DiskController.PVSCSI) // the simulator knows SCSI and IDE only
            .network("VM Network")
            .imageDigest(digest)
            .signedWith(key)
            .writeOva(raw, dir.resolve("signed.ova"));
    assertThat(ova.entries())
        .extracting(PackagedFile::name)
        .containsExactly(
            "kiln-signed.ovf", "kiln-signed.mf", "kiln-signed.cert", "kiln-signed-disk1.vmdk");
  }

  private VspherePublisher publisher(VsphereTarget target) {
    return VspherePublisher.to(target).credentials(vcsim.credentials());
  }

  @Test
  void aSignedOvaImportsAsATemplate() throws Exception {
    PublishResult r = publisher(vcsim.template("signed-template")).publish(ova);
    assertThat(r.uploaded()).isTrue();
    assertThat(r.imageDigest()).isEqualTo(digest);
    // the disk goes to the lease; descriptor, manifest and certificate are read by Kiln
    assertThat(r.bytesUploaded()).isEqualTo(ova.entries().get(3).size());
    try (VsphereClient vc =
        VsphereClient.connect(
            vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()))) {
      ManagedObject vm = vc.findByInventoryPath("/DC0/vm/signed-template").orElseThrow();
      VmConfig c = vc.vmConfig(vm);
      assertThat(c.template()).isTrue();
      assertThat(c.diskCapacitiesBytes()).containsExactly(8L << 20);
      assertThat(DigestNote.find(c.annotation())).contains(digest);
    }
  }

  @Test
  void aLibraryItemKeepsTheCertificate() throws Exception {
    PublishResult r = publisher(vcsim.libraryItem("kiln-signed-lib", "web")).publish(ova);
    assertThat(r.uploaded()).isTrue();
    try (ContentLibraryClient cl =
        ContentLibraryClient.connect(
            vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()))) {
      assertThat(cl.files(r.location()))
          .extracting(ContentLibraryClient.ItemFile::name)
          .containsExactlyInAnyOrder(
              "kiln-signed.ovf", "kiln-signed.mf", "kiln-signed.cert", "kiln-signed-disk1.vmdk");
      ByteArrayOutputStream back = new ByteArrayOutputStream();
      cl.download(r.location(), "kiln-signed.cert", back);
      assertThat(Digest.of(back.toByteArray())).isEqualTo(ova.entries().get(2).sha256());
    }
  }

  @Test
  void aVsphereBakeWithASignerWithoutACertificatePublishes() throws Exception {
    String openssl = Tools.require("openssl", "openssl");
    Path k = dir.resolve("uncertified.pem");
    Tools.run(openssl, "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", k.toString())
        .ok();
    VsphereTarget item = vcsim.libraryItem("kiln-signed-bake", "data");
    bakeInAChildProcess(item + "&disk.dataOnly=true&disk.size=160M", k);
    try (ContentLibraryClient cl =
        ContentLibraryClient.connect(
            vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()))) {
      String library = cl.findLibraries("kiln-signed-bake").get(0);
      String id = cl.findItem(library, "data").orElseThrow();
      assertThat(cl.files(id))
          .extracting(ContentLibraryClient.ItemFile::name)
          .containsExactlyInAnyOrder("data.ovf", "data.mf", "data-disk1.vmdk");
    }
  }

  private void bakeInAChildProcess(String uri, Path key) throws Exception {
    Credentials c = vcsim.credentials();
    Path log = dir.resolve("bake.log");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                BakeSignedToTargetMain.class.getName(),
                dir.resolve("store").toString(),
                uri,
                key.toString()));
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put(Credentials.USER_VARIABLE, c.user());
    pb.environment().put(Credentials.PASSWORD_VARIABLE, c.password());
    Process p = pb.start();
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
    }
    assertThat(p.exitValue()).as(Files.readString(log)).isZero();
  }
}
