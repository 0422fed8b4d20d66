package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.vmware.auth.TlsTrust;
import dev.kiln.vmware.internal.vsphere.ContentLibraryClient;
import dev.kiln.vmware.internal.vsphere.LeaseInfo;
import dev.kiln.vmware.internal.vsphere.ManagedObject;
import dev.kiln.vmware.internal.vsphere.VmConfig;
import dev.kiln.vmware.internal.vsphere.VsphereClient;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Publishing to govmomi's vCenter simulator: OVA import as a template, content library items,
 * idempotency, refusal to overwrite, and roll-back of a failed upload. The simulator discards NFC
 * (import) uploads but stores content library files, so library contents are compared byte for
 * byte.
 */
class VspherePublisherIT {
  @RegisterExtension static final Vcsim vcsim = new Vcsim();

  @TempDir static Path dir;
  private static Path raw;
  private static Digest digestA;
  private static Digest digestB;
  private static OvaArchive ovaA;
  private static OvaArchive ovaB;
  private static OvfFiles filesA;

  @BeforeAll
  static void packages() throws IOException {
    raw = TestDisks.withData(dir.resolve("disk.raw"), 8L << 20, 42);
    digestA = Digest.of("image A".getBytes(StandardCharsets.UTF_8));
    digestB = Digest.of("image B".getBytes(StandardCharsets.UTF_8));
    // the simulator's CreateImportSpec knows SCSI and IDE controllers, not NVMe or SATA (real
    // vCenter knows all three)
    OvfPackage base =
        OvfPackage.named("kiln-test")
            .cpus(2)
            .memoryMiB(1024)
            .diskController(DiskController.PVSCSI)
            .network("VM Network")
            .annotation("Kiln image kiln-test\nbase: debian-12");
    ovaA = base.imageDigest(digestA).writeOva(raw, dir.resolve("a.ova"));
    ovaB = base.imageDigest(digestB).writeOva(raw, dir.resolve("b.ova"));
    filesA = base.imageDigest(digestA).writeOvf(raw, dir.resolve("a-ovf"));
  }

  private VspherePublisher publisher(VsphereTarget target) {
    return VspherePublisher.to(target).credentials(vcsim.credentials());
  }

  private VsphereClient client() throws IOException {
    return VsphereClient.connect(
        vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()));
  }

  @Test
  void importsAnOvaAsATemplateWithTheDescribedHardware() throws Exception {
    VsphereTarget target = vcsim.template("web-template");
    AtomicReference<LeaseInfo> lease = new AtomicReference<>();
    PublishResult r =
        publisher(target)
            .listener(
                new PublishListener() {
                  @Override
                  public void leaseReady(LeaseInfo info) {
                    lease.set(info);
                  }
                })
            .publish(ovaA);

    assertThat(r.uploaded()).isTrue();
    assertThat(r.imageDigest()).isEqualTo(digestA);
    assertThat(r.bytesUploaded())
        .isEqualTo(ovaA.entries().get(2).size()); // the disk; the descriptor went by SOAP
    assertThat(lease.get().deviceUrls()).hasSize(1);
    try (VsphereClient vc = client()) {
      ManagedObject vm = vc.findByInventoryPath("/DC0/vm/web-template").orElseThrow();
      assertThat(vm.value()).isEqualTo(r.location());
      VmConfig c = vc.vmConfig(vm);
      assertThat(c.template()).isTrue();
      assertThat(c.firmware()).isEqualTo("efi");
      assertThat(c.numCpu()).isEqualTo(2);
      assertThat(c.memoryMb()).isEqualTo(1024);
      assertThat(c.diskCapacitiesBytes()).containsExactly(8L << 20);
      assertThat(c.annotation()).startsWith("Kiln image kiln-test\nbase: debian-12");
      assertThat(DigestNote.find(c.annotation())).contains(digestA);
    }
    assertThat(publisher(target).publishedDigest()).contains(digestA);
  }

  @Test
  void importsLooseOvfFilesToo() throws Exception {
    PublishResult r = publisher(vcsim.template("web-loose")).publish(filesA);
    assertThat(r.uploaded()).isTrue();
    assertThat(r.bytesUploaded()).isEqualTo(filesA.vmdk().size());
    try (VsphereClient vc = client()) {
      assertThat(vc.vmConfig(vc.findByInventoryPath("/DC0/vm/web-loose").orElseThrow()).template())
          .isTrue();
    }
  }

  @Test
  void republishingTheSameImageUploadsNothing() throws Exception {
    VsphereTarget target = vcsim.template("web-again");
    AtomicLong bytes = new AtomicLong();
    VspherePublisher p = publisher(target).uploadInterceptor(counting(bytes));
    PublishResult first = p.publish(ovaA);
    assertThat(bytes.get()).isEqualTo(first.bytesUploaded()).isPositive();

    bytes.set(0);
    PublishResult second = p.publish(ovaA);
    assertThat(second.uploaded()).isFalse();
    assertThat(second.bytesUploaded()).isZero();
    assertThat(bytes.get()).isZero();
    assertThat(second.location()).isEqualTo(first.location());
  }

  @Test
  void aDifferentImageUnderTheSameNameIsRefusedAndTheTemplateKept() throws Exception {
    VsphereTarget target = vcsim.template("web-taken");
    publisher(target).publish(ovaA);

    assertThatThrownBy(() -> publisher(target).publish(ovaB))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("a different template already exists at /DC0/vm/web-taken")
        .hasMessageContaining(digestA.toString())
        .hasMessageContaining("never overwrites");
    assertThat(publisher(target).publishedDigest()).contains(digestA);
  }

  @Test
  void aVmNotMadeByKilnIsNotTouched() throws Exception {
    // DC0_H0_VM0 is one of the simulator's own VMs
    VsphereTarget target = vcsim.template("DC0_H0_VM0");
    assertThatThrownBy(() -> publisher(target).publish(ovaA))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("not made by Kiln");
  }

  @Test
  void aFailureMidUploadAbortsTheLeaseAndLeavesNoVm() throws Exception {
    VsphereTarget target = vcsim.template("web-broken");
    AtomicReference<LeaseInfo> lease = new AtomicReference<>();
    AtomicReference<URI> deviceUrl = new AtomicReference<>();
    AtomicInteger statusWhileUploading = new AtomicInteger();
    try (VsphereClient vc = client()) {
      UnaryOperator<InputStream> failAfter100k =
          in ->
              new FilterInputStream(in) {
                long n;

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                  if (n > 100_000) {
                    // the lease is alive now: its device URL takes uploads
                    statusWhileUploading.set(nfcStatus(deviceUrl.get()));
                    throw new IOException("injected failure after " + n + " bytes");
                  }
                  int r = super.read(b, off, len);
                  n += Math.max(r, 0);
                  return r;
                }
              };
      VspherePublisher p =
          publisher(target)
              .uploadInterceptor(failAfter100k)
              .listener(
                  new PublishListener() {
                    @Override
                    public void leaseReady(LeaseInfo info) {
                      lease.set(info);
                      deviceUrl.set(vc.deviceUri(info.deviceUrls().get(0)));
                    }
                  });

      assertThatThrownBy(() -> p.publish(ovaA))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("rolled back")
          .satisfies(
              e -> assertThat(rootCause(e).getMessage()).startsWith("injected failure after"));

      assertThat(statusWhileUploading.get()).isEqualTo(200);
      assertThat(nfcStatus(deviceUrl.get())).as("device URL after the abort").isEqualTo(404);
      assertThat(vc.findByInventoryPath("/DC0/vm/web-broken")).isEmpty();
      ManagedObject vm = lease.get().entity();
      assertThatThrownBy(() -> vc.vmConfig(vm)).hasMessageContaining("ManagedObjectNotFound");
    }
    // nothing is left in the way: the same publish now succeeds
    assertThat(publisher(target).publish(ovaA).uploaded()).isTrue();
  }

  @Test
  void theLeaseIsKeptAliveDuringASlowUpload() throws Exception {
    List<Integer> percents = new CopyOnWriteArrayList<>();
    UnaryOperator<InputStream> slow =
        in ->
            new FilterInputStream(in) {
              @Override
              public int read(byte[] b, int off, int len) throws IOException {
                try {
                  Thread.sleep(15);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  throw new IOException(e);
                }
                return super.read(b, off, Math.min(len, 16384));
              }
            };
    PublishResult r =
        publisher(vcsim.template("web-slow"))
            .uploadInterceptor(slow)
            .leaseKeepAlive(Duration.ofMillis(40))
            .listener(
                new PublishListener() {
                  @Override
                  public void leaseKeptAlive(int percent) {
                    percents.add(percent);
                  }
                })
            .publish(ovaA);
    assertThat(r.uploaded()).isTrue();
    assertThat(percents).hasSizeGreaterThanOrEqualTo(2);
    assertThat(percents).isSorted().allMatch(p -> p >= 0 && p < 100);
  }

  @Test
  void aLibraryItemHoldsTheUploadedFilesByteForByte() throws Exception {
    VsphereTarget target = vcsim.libraryItem("kiln-lib", "web");
    PublishResult r = publisher(target).publish(filesA);
    assertThat(r.uploaded()).isTrue();
    long total = filesA.files().stream().mapToLong(PackagedFile::size).sum();
    assertThat(r.bytesUploaded()).isEqualTo(total);

    try (ContentLibraryClient cl =
        ContentLibraryClient.connect(
            vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()))) {
      String library = cl.findLibraries("kiln-lib").get(0);
      String item = cl.findItem(library, "web").orElseThrow();
      assertThat(item).isEqualTo(r.location());
      ContentLibraryClient.Item info = cl.item(item);
      assertThat(info.type()).isEqualTo("ovf");
      assertThat(DigestNote.find(info.description())).contains(digestA);
      assertThat(cl.files(item))
          .extracting(ContentLibraryClient.ItemFile::name)
          .containsExactlyInAnyOrder("kiln-test.ovf", "kiln-test.mf", "kiln-test-disk1.vmdk");
      for (PackagedFile f : filesA.files()) {
        ByteArrayOutputStream back = new ByteArrayOutputStream();
        cl.download(item, f.name(), back);
        assertThat(back.toByteArray()).as(f.name()).isEqualTo(Files.readAllBytes(filesA.path(f)));
      }
    }
    assertThat(publisher(target).publishedDigest()).contains(digestA);
  }

  @Test
  void aLibraryItemTakesAnOvaAsItsLooseFiles() throws Exception {
    PublishResult r = publisher(vcsim.libraryItem("kiln-lib-ova", "web")).publish(ovaA);
    try (ContentLibraryClient cl =
        ContentLibraryClient.connect(
            vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()))) {
      ByteArrayOutputStream back = new ByteArrayOutputStream();
      cl.download(r.location(), "kiln-test-disk1.vmdk", back);
      assertThat(Digest.of(back.toByteArray())).isEqualTo(ovaA.entries().get(2).sha256());
    }
  }

  @Test
  void republishingToALibraryUploadsNothingAndADifferentImageIsRefused() throws Exception {
    VsphereTarget target = vcsim.libraryItem("kiln-lib-again", "web");
    AtomicLong bytes = new AtomicLong();
    publisher(target).publish(ovaA);
    PublishResult again = publisher(target).uploadInterceptor(counting(bytes)).publish(ovaA);
    assertThat(again.uploaded()).isFalse();
    assertThat(bytes.get()).isZero();

    assertThatThrownBy(() -> publisher(target).publish(ovaB))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("a different item web already exists in library kiln-lib-again");
  }

  @Test
  void aFailedLibraryUploadLeavesNoItemAndNoOpenSession() throws Exception {
    VsphereTarget target = vcsim.libraryItem("kiln-lib-broken", "web");
    UnaryOperator<InputStream> failOnDisk =
        in ->
            new FilterInputStream(in) {
              long n;

              @Override
              public int read(byte[] b, int off, int len) throws IOException {
                int r = super.read(b, off, len);
                n += Math.max(r, 0);
                if (n > 200_000) {
                  throw new IOException("injected failure");
                }
                return r;
              }
            };
    assertThatThrownBy(() -> publisher(target).uploadInterceptor(failOnDisk).publish(filesA))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("rolled back");
    try (ContentLibraryClient cl =
        ContentLibraryClient.connect(
            vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()))) {
      String library = cl.findLibraries("kiln-lib-broken").get(0);
      assertThat(cl.findItem(library, "web")).isEmpty();
      for (String session : cl.updateSessions()) {
        assertThat(cl.updateSessionState(session))
            .as("update session %s", session)
            .isNotEqualTo("ACTIVE");
      }
    }
    assertThat(publisher(target).publish(filesA).uploaded()).isTrue();
  }

  @Test
  void aLibraryThatDoesNotExistNeedsADatastore() {
    VsphereTarget target =
        VsphereTarget.libraryItem(vcsim.host(), "DC0", "nowhere", "web")
            .thumbprint(vcsim.thumbprint());
    assertThatThrownBy(() -> publisher(target).publish(ovaA))
        .isInstanceOf(ImageStoreException.class)
        .hasMessageContaining("no content library named nowhere, and no datastore=");
  }

  @Test
  void aMissingFolderOrPoolIsNamed() {
    VsphereTarget noFolder =
        VsphereTarget.template(vcsim.host(), "DC0", "vm/nope", "x")
            .datastore("LocalDS_0")
            .pool("DC0_C0")
            .thumbprint(vcsim.thumbprint());
    assertThatThrownBy(() -> publisher(noFolder).publish(ovaA))
        .hasMessageContaining("no folder at inventory path /DC0/vm/nope");
    VsphereTarget noPool =
        VsphereTarget.template(vcsim.host(), "DC0", "vm", "x")
            .datastore("LocalDS_0")
            .pool("nope")
            .thumbprint(vcsim.thumbprint());
    assertThatThrownBy(() -> publisher(noPool).publish(ovaA))
        .hasMessageContaining("no resource pool at inventory path /DC0/host/nope");
  }

  @Test
  void aPackageWithoutAnImageDigestIsRefused() throws Exception {
    OvaArchive plain =
        OvfPackage.named("plain")
            .diskController(DiskController.PVSCSI)
            .writeOva(raw, dir.resolve("plain.ova"));
    assertThatThrownBy(() -> publisher(vcsim.template("plain")).publish(plain))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("OvfPackage.imageDigest(digest)");
  }

  private static UnaryOperator<InputStream> counting(AtomicLong bytes) {
    return in ->
        new FilterInputStream(in) {
          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            int r = super.read(b, off, len);
            if (r > 0) {
              bytes.addAndGet(r);
            }
            return r;
          }
        };
  }

  /** The status a device URL answers to an empty PUT: 200 while its lease lives, 404 after. */
  private static int nfcStatus(URI url) {
    try {
      HttpClient http =
          HttpClient.newBuilder()
              .sslContext(TlsTrust.pinnedSha256(vcsim.thumbprint()).sslContext())
              .build();
      return http.send(
              HttpRequest.newBuilder(url).PUT(HttpRequest.BodyPublishers.noBody()).build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  private static Throwable rootCause(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }
}
