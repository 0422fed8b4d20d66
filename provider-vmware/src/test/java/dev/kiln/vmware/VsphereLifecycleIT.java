package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.RetentionReport;
import dev.kiln.vmware.auth.TlsTrust;
import dev.kiln.vmware.internal.vsphere.ContentLibraryClient;
import dev.kiln.vmware.internal.vsphere.VsphereClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Template and content library retention against govmomi's vCenter simulator: old templates and
 * items go, the newest K and the young ones stay, a dry run changes nothing, and nothing Kiln did
 * not publish (or that does not match the names) is touched.
 */
class VsphereLifecycleIT {
  @RegisterExtension static final Vcsim vcsim = new Vcsim();

  @TempDir static Path dir;
  private static Path raw;

  @BeforeAll
  static void disk() throws IOException {
    raw = TestDisks.withData(dir.resolve("disk.raw"), 4L << 20, 7);
  }

  /** An OVA of image {@code label}, packaged for the simulator (PVSCSI). */
  private static OvaArchive ova(String label) throws IOException {
    return OvfPackage.named("kiln-" + label)
        .cpus(1)
        .memoryMiB(512)
        .diskController(DiskController.PVSCSI)
        .network("VM Network")
        .imageDigest(Digest.of(label.getBytes(StandardCharsets.UTF_8)))
        .writeOva(raw, dir.resolve(label + ".ova"));
  }

  private static void publish(VsphereTarget target, String label) throws Exception {
    VspherePublisher.to(target).credentials(vcsim.credentials()).publish(ova(label));
    Thread.sleep(20); // publication times differ
  }

  private static VsphereLifecycle lifecycle(VsphereTarget target) {
    return VsphereLifecycle.of(target).credentials(vcsim.credentials());
  }

  private static VsphereClient client() throws IOException {
    return VsphereClient.connect(
        vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()));
  }

  private static Map<String, String> reasons(List<RetentionReport.Item> items) {
    Map<String, String> m = new LinkedHashMap<>();
    items.forEach(i -> m.put(i.id(), i.reason()));
    return m;
  }

  @Test
  void oldTemplatesGoAndTheNewestKStay() throws Exception {
    for (int n = 1; n <= 4; n++) {
      publish(vcsim.template("web-" + n), "web-" + n);
    }
    publish(vcsim.template("db-1"), "db-1");
    VsphereLifecycle rules = lifecycle(vcsim.template("web-4")).keepNewest(2);

    // a dry run lists what would go and destroys nothing
    RetentionReport dry = rules.dryRun(true).run("web-*");
    assertThat(dry.dryRun()).isTrue();
    assertThat(reasons(dry.removed()).keySet())
        .containsExactlyInAnyOrder("/DC0/vm/web-1", "/DC0/vm/web-2");
    try (VsphereClient vc = client()) {
      for (int n = 1; n <= 4; n++) {
        assertThat(vc.findByInventoryPath("/DC0/vm/web-" + n)).as("web-" + n).isPresent();
      }
    }

    RetentionReport run = rules.run("web-*");
    assertThat(run.dryRun()).isFalse();
    assertThat(run.scope()).isEqualTo("vsphere " + vcsim.host() + "/DC0/vm web-*");
    assertThat(reasons(run.removed("template")))
        .containsOnly(
            Map.entry("/DC0/vm/web-1", "not among the newest 2"),
            Map.entry("/DC0/vm/web-2", "not among the newest 2"));
    assertThat(reasons(run.kept()))
        .containsOnly(
            Map.entry("/DC0/vm/web-3", "newest 2"), Map.entry("/DC0/vm/web-4", "newest 2"));
    try (VsphereClient vc = client()) {
      assertThat(vc.findByInventoryPath("/DC0/vm/web-1")).isEmpty();
      assertThat(vc.findByInventoryPath("/DC0/vm/web-2")).isEmpty();
      assertThat(vc.findByInventoryPath("/DC0/vm/web-3")).isPresent();
      assertThat(vc.findByInventoryPath("/DC0/vm/web-4")).isPresent();
      assertThat(vc.findByInventoryPath("/DC0/vm/db-1")).isPresent(); // another name
      // the simulator's own VMs are not Kiln's: never looked at, even by a pattern matching them
      RetentionReport everything = rules.keepNewest(0).run("*");
      assertThat(reasons(everything.removed()).keySet())
          .containsExactlyInAnyOrder("/DC0/vm/web-3", "/DC0/vm/web-4", "/DC0/vm/db-1");
      assertThat(vc.findByInventoryPath("/DC0/vm/DC0_H0_VM0")).isPresent();
      assertThat(vc.findByInventoryPath("/DC0/vm/DC0_C0_RP0_VM0")).isPresent();
    }
  }

  @Test
  void oldLibraryItemsGoAndYoungOnesStay() throws Exception {
    String library = "kiln-retention";
    publish(vcsim.libraryItem(library, "web-1"), "item-1");
    publish(vcsim.libraryItem(library, "web-2"), "item-2");
    Thread.sleep(50);
    Instant between = Instant.now();
    Thread.sleep(50);
    publish(vcsim.libraryItem(library, "web-3"), "item-3");
    publish(vcsim.libraryItem(library, "other"), "item-4");
    // 30 days after "between": web-1 and web-2 are older than 30 days, web-3 is younger
    VsphereLifecycle rules =
        lifecycle(vcsim.libraryItem(library, "web-3"))
            .keepYoungerThan(Duration.ofDays(30))
            .clock(Clock.fixed(between.plus(Duration.ofDays(30)), ZoneOffset.UTC));

    RetentionReport dry = rules.dryRun(true).run("web-?");
    assertThat(reasons(dry.removed("library-item")).keySet())
        .containsExactlyInAnyOrder(library + "/web-1", library + "/web-2");
    try (ContentLibraryClient cl = library()) {
      String lib = cl.findLibraries(library).get(0);
      assertThat(cl.items(lib)).hasSize(4);
    }

    RetentionReport run = rules.run("web-?");
    assertThat(reasons(run.removed()))
        .containsOnly(
            Map.entry(library + "/web-1", "older than 30 days"),
            Map.entry(library + "/web-2", "older than 30 days"));
    assertThat(reasons(run.kept()))
        .containsOnly(Map.entry(library + "/web-3", "younger than 30 days"));
    assertThat(run.bytesFreed()).isPositive().isEqualTo(dry.bytesFreed()); // what would go, went
    try (ContentLibraryClient cl = library()) {
      String lib = cl.findLibraries(library).get(0);
      assertThat(cl.findItem(lib, "web-1")).isEmpty();
      assertThat(cl.findItem(lib, "web-2")).isEmpty();
      assertThat(cl.findItem(lib, "web-3")).isPresent();
      assertThat(cl.findItem(lib, "other")).isPresent();
    }
  }

  private static ContentLibraryClient library() throws IOException {
    return ContentLibraryClient.connect(
        vcsim.host(), vcsim.credentials(), TlsTrust.pinnedSha256(vcsim.thumbprint()));
  }
}
