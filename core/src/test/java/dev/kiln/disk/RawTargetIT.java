package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.keys.StatIndex;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.RecordingListener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code raw:} target through the engine: a Debian base plus a files layer with a systemd unit,
 * baked to a valid raw disk (e2fsck) that holds the unit; the same definition from another
 * checkout, in another store, gives the same disk; a rebake copies nothing; an image without a
 * kernel is a clear error.
 *
 * <p>Booting is proved elsewhere: {@code VmdkBootIT} bakes the same kind of definition through the
 * engine to {@code raw:} and {@code vmdk:}, finds both the same disk (qemu-img compare) and boots
 * it to the marker; {@link DiskBootIT} boots what the disk builder makes of a base and an app
 * layer. A third boot here cost about 30 s of the suite and proved nothing more.
 */
class RawTargetIT {
  @TempDir Path tmp;

  private Path checkout(Path dir, String marker, long mtime) throws Exception {
    Path unit = Files.createDirectories(dir.resolve("systemd"));
    Files.writeString(
        unit.resolve("kiln-marker.service"),
        "[Unit]\nDescription=Kiln boot marker\n\n[Service]\nType=oneshot\n"
            + "ExecStart=/bin/sh -c 'echo "
            + marker
            + " > /dev/console'\n\n[Install]\nWantedBy=multi-user.target\n");
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.toList()) {
        Files.setLastModifiedTime(p, FileTime.fromMillis(mtime));
      }
    }
    return dir;
  }

  private static ImageBuild definition(Path rootfs, Path checkout) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(
            Layer.files("marker")
                .add(
                    checkout.resolve("systemd/kiln-marker.service"),
                    "/etc/systemd/system/kiln-marker.service",
                    0644)
                .symlink(
                    "/etc/systemd/system/multi-user.target.wants/kiln-marker.service",
                    "/etc/systemd/system/kiln-marker.service"));
  }

  @Test
  void bakesABootableRawDiskReproduciblyAndOnce() throws Exception {
    Path rootfs = DiskBootIT.fixture();
    String marker = "KILN-RAW-" + Long.toHexString(new Random().nextLong());
    RecordingListener events = new RecordingListener();
    Path a = tmp.resolve("a.img");
    BakeResult first;
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store-a")).listener(events).build()) {
      first =
          kiln.bake(
              definition(rootfs, checkout(tmp.resolve("checkout-a"), marker, 1_500_000_000_000L)),
              "raw:" + a);
      assertThat(first.published().get("raw:" + a).details().get("kernel"))
          .startsWith("/boot/vmlinuz-");

      // a second raw target of the same image reuses the cached disk; a rebake to the first copies
      // nothing, and
      // removes the temp file a writer killed in the middle of a copy left beside it (unlocked),
      // but no other file
      Path dead =
          Files.write(
              tmp.resolve(".a.img.kiln-tmp-" + java.util.UUID.randomUUID()), new byte[4096]);
      Path unrelated = Files.write(tmp.resolve(".a.img.notes"), new byte[1]);
      events.clear();
      kiln.bake(
          definition(rootfs, tmp.resolve("checkout-a")),
          "raw:" + tmp.resolve("copy.img"),
          "raw:" + a);
      assertThat(events.of(BakeEvent.Output.class))
          .noneMatch(
              o -> o.line().startsWith("building the disk") || o.line().startsWith("extending"));
      assertThat(events.of(BakeEvent.ImagePublished.class))
          .filteredOn(BakeEvent.ImagePublished::reused)
          .extracting(BakeEvent.ImagePublished::target)
          .containsExactly("raw:" + a);
      assertThat(events.provisioned()).isEmpty();
      assertThat(dead).as("a dead writer's temp file beside a raw: target").doesNotExist();
      assertThat(unrelated).exists();
      try (var s = Files.list(tmp)) {
        assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".kiln-tmp-"));
      }
    }
    Digest sha = new Digest(StatIndex.hash(a));
    assertThat(new Digest(StatIndex.hash(tmp.resolve("copy.img")))).isEqualTo(sha);
    assertThat(Files.size(a)).isGreaterThan(Files.size(rootfs));

    DiskImage disk = DiskImage.read(a);
    DiskBuilderTest.assertValid(disk);
    assertThat(Tools.debugfs(disk, "cat /etc/systemd/system/kiln-marker.service")).contains(marker);
    // enabled: the link systemd follows at boot
    assertThat(
            Tools.debugfs(
                disk, "stat /etc/systemd/system/multi-user.target.wants/kiln-marker.service"))
        .contains("Type: symlink")
        .contains("/etc/systemd/system/kiln-marker.service");

    // another checkout, other mtimes, another store: the same disk, bit for bit
    Path b = tmp.resolve("b.img");
    try (Kiln kiln = Fixtures.debianStore(tmp.resolve("store-b")).build()) {
      kiln.bake(
          definition(rootfs, checkout(tmp.resolve("checkout-b"), marker, 1_700_000_000_000L)),
          "raw:" + b);
    }
    assertThat(new Digest(StatIndex.hash(b))).isEqualTo(sha);
  }

  @Test
  void anImageWithoutAKernelIsAClearError() throws Exception {
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      ImageBuild noKernel =
          ImageBuild.from(Base.scratch())
              .layer(Layer.files("etc").content("/etc/hostname", "x\n".getBytes(), 0644));
      assertThatThrownBy(() -> kiln.bake(noKernel, "raw:" + tmp.resolve("x.img")))
          .isInstanceOf(DiskException.class)
          .hasMessageContaining("kernel");
      assertThat(tmp.resolve("x.img")).doesNotExist();
    }
  }
}
