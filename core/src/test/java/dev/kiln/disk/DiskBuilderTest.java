package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiskBuilderTest {
  @TempDir Path tmp;
  Path base;
  Path app;
  static final DiskOptions SMALL =
      DiskOptions.defaults().freeSpace(32L << 20).timestamp(1_700_000_000L);

  @BeforeEach
  void layers() throws Exception {
    byte[] big = new byte[3 << 20];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) (i * 31 + (i >> 12));
    }
    base =
        TestLayers.layer()
            .dir("boot")
            .file("boot/vmlinuz-6.1.0-9-cloud-amd64", 0644, "old kernel")
            .file("boot/vmlinuz-6.1.0-10-cloud-amd64", 0644, "not really a kernel")
            .file("boot/initrd.img-6.1.0-10-cloud-amd64", 0644, "not really an initramfs")
            .dir("etc")
            .file("etc/hostname", "kiln\n")
            .file("etc/shadow", 0640, 0, 42, "root:*:1::::::\n".getBytes(StandardCharsets.UTF_8))
            .dir("usr")
            .dir("usr/bin")
            .file("usr/bin/su", 04755, "setuid")
            .file("usr/bin/ping6", 0755, "ping6")
            .xattr("security.capability", "capability-bytes")
            .hardlink("usr/bin/su-again", "usr/bin/su")
            .symlink("bin", "usr/bin")
            .dir("dev")
            .charDevice("dev/null", 0666, 1, 3)
            .fifo("dev/initctl", 0600)
            .dir("var")
            .dir("var/cache", 0755, 0, 0)
            .file("var/cache/a", "a")
            .file("var/cache/b", "b")
            .dir("opt")
            .file("opt/ping", 0755, 0, 0, "ping".getBytes(StandardCharsets.UTF_8))
            .xattr("security.capability", "cap")
            .file("opt/big.bin", 0644, 0, 0, big)
            .dir("home", 0755, 0, 0)
            .dir("home/user", 0700, 1000, 1000)
            .file(
                "home/user/.profile", 0600, 1000, 1000, "PS1=x\n".getBytes(StandardCharsets.UTF_8))
            .write(tmp.resolve("base.tar.gz"));
    app =
        TestLayers.layer()
            .dir("etc")
            .whiteout("etc/hostname")
            .file("etc/motd", "hello from the app\n")
            .dir("var")
            .dir("var/cache")
            .opaque("var/cache")
            .file("var/cache/c", "c")
            .dir("opt", 0700, 0, 0)
            .dir("opt/app", 0750, 33, 33)
            .file("opt/app/app.jar", 0640, 33, 33, new byte[] {1, 2, 3})
            .xattr("user.kiln", "yes")
            .symlink("opt/app/current", "/opt/app/app.jar")
            .file("opt/ping", 0700, "replaced")
            .write(tmp.resolve("app.tar.gz"));
  }

  @Test
  void buildsAValidDiskWhoseFilesReadBack() throws Exception {
    DiskImage d = DiskBuilder.create(SMALL).build(List.of(base, app), tmp.resolve("disk.img"));

    assertThat(d.size() % (1L << 30)).isZero();
    assertThat(d.kernel()).contains("/boot/vmlinuz-6.1.0-10-cloud-amd64");
    assertThat(d.initrd()).contains("/boot/initrd.img-6.1.0-10-cloud-amd64");
    assertValid(d);
    assertLayersReadBack(d);
  }

  @Test
  void sameLayersGiveTheSameBytes() throws Exception {
    DiskBuilder b = DiskBuilder.create(SMALL);
    b.build(List.of(base, app), tmp.resolve("one.img"));
    // a different checkout: the same layers copied elsewhere, the source dir touched
    Path other = Files.createDirectories(tmp.resolve("other"));
    Files.copy(base, other.resolve("l1.tar.gz"));
    Files.copy(app, other.resolve("l2.tar.gz"));
    Files.setLastModifiedTime(
        other.resolve("l1.tar.gz"), java.nio.file.attribute.FileTime.fromMillis(12345));
    b.build(
        List.of(other.resolve("l1.tar.gz"), other.resolve("l2.tar.gz")), other.resolve("two.img"));

    assertThat(Tools.sha256(other.resolve("two.img")))
        .isEqualTo(Tools.sha256(tmp.resolve("one.img")));
  }

  @Test
  void extendingACachedBaseGivesTheSameBytesAsTheDefinition() throws Exception {
    DiskBuilder b = DiskBuilder.create(SMALL);
    DiskImage baseDisk = b.build(List.of(base), tmp.resolve("base.img"));
    DiskImage extended = b.extend(baseDisk.path(), List.of(app), tmp.resolve("ext.img"));
    DiskImage direct = b.build(List.of(base, app), 1, tmp.resolve("direct.img"));

    assertThat(Tools.sha256(extended.path())).isEqualTo(Tools.sha256(direct.path()));
    assertValid(extended);
    assertLayersReadBack(extended);
    assertThat(extended.kernel()).isEqualTo(baseDisk.kernel());
    BlockDiff diff = BlockDiff.compare(baseDisk.path(), extended.path());
    assertThat(diff.changedBlocks()).isGreaterThan(0).isLessThan(20);
    // the metadata copy (debugfs on a scratch file without regular-file data) gives what a full
    // copy gives
    DiskImage full =
        b.withFullCopy(true).extend(baseDisk.path(), List.of(app), tmp.resolve("full.img"));
    assertThat(Tools.sha256(full.path())).isEqualTo(Tools.sha256(extended.path()));
  }

  @Test
  void replacingBaseFilesReusesTheirBlocksCorrectly() throws Exception {
    DiskBuilder b = DiskBuilder.create(SMALL);
    DiskImage baseDisk = b.build(List.of(base), tmp.resolve("base.img"));
    byte[] other = new byte[3 << 20];
    for (int i = 0; i < other.length; i++) {
      other[i] = (byte) (i * 7 + 1);
    }
    byte[] bigger = new byte[5 << 20];
    java.util.Arrays.fill(bigger, (byte) 0x5a);
    Path replace =
        TestLayers.layer()
            .dir("opt")
            .file(
                "opt/big.bin",
                0644,
                0,
                0,
                other) // same size: freed blocks are reused in the same session
            .whiteout("opt/ping")
            .file("opt/more.bin", 0600, 7, 7, bigger)
            .dir("usr")
            .dir("usr/bin")
            .whiteout("usr/bin/su") // one of two hard links: the file stays
            .write(tmp.resolve("replace.tar.gz"));
    DiskImage fast = b.extend(baseDisk.path(), List.of(replace), tmp.resolve("fast.img"));
    DiskImage full =
        b.withFullCopy(true).extend(baseDisk.path(), List.of(replace), tmp.resolve("full.img"));

    assertThat(Tools.sha256(fast.path())).isEqualTo(Tools.sha256(full.path()));
    assertValid(fast);
    Path dump = tmp.resolve("big.out");
    Tools.run(
        "debugfs", "-R", "dump /opt/big.bin " + dump, fast.path() + "?offset=" + fast.rootOffset());
    assertThat(Files.readAllBytes(dump)).isEqualTo(other);
    Tools.run(
        "debugfs",
        "-R",
        "dump /opt/more.bin " + dump,
        fast.path() + "?offset=" + fast.rootOffset());
    assertThat(Files.readAllBytes(dump)).isEqualTo(bigger);
    Tools.run(
        "debugfs",
        "-R",
        "dump /usr/bin/su-again " + dump,
        fast.path() + "?offset=" + fast.rootOffset());
    assertThat(Files.readString(dump)).isEqualTo("setuid");
    assertThat(Tools.debugfs(fast, "stat /opt/ping")).contains("File not found");
    assertThat(Tools.debugfs(fast, "stat /usr/bin/su-again")).contains("Links: 1");
  }

  @Test
  void theEspIsKeptUnlessTheBootConfigurationChanges() throws Exception {
    DiskBuilder b = DiskBuilder.create(SMALL);
    DiskImage baseDisk = b.build(List.of(base), tmp.resolve("base.img"));
    Path newKernel =
        TestLayers.layer()
            .dir("boot")
            .file("boot/vmlinuz-6.1.0-11-cloud-amd64", 0644, "newer")
            .write(tmp.resolve("kernel.tar.gz"));

    DiskImage same = b.extend(baseDisk.path(), List.of(app), tmp.resolve("same.img"));
    DiskImage kernel = b.extend(baseDisk.path(), List.of(newKernel), tmp.resolve("kernel.img"));
    DiskImage args =
        DiskBuilder.create(SMALL.kernelArgs("quiet"))
            .extend(baseDisk.path(), List.of(app), tmp.resolve("args.img"));

    assertThat(esp(same)).isEqualTo(esp(baseDisk));
    assertThat(kernel.kernel()).contains("/boot/vmlinuz-6.1.0-11-cloud-amd64");
    assertThat(kernel.initrd()).isEmpty();
    assertValid(kernel);
    assertThat(new String(esp(kernel), StandardCharsets.ISO_8859_1))
        .contains(
            "linux /boot/vmlinuz-6.1.0-11-cloud-amd64 root=PARTUUID=" + baseDisk.rootPartition())
        .doesNotContain("initrd /boot/initrd.img");
    assertValid(args);
    assertThat(new String(esp(args), StandardCharsets.ISO_8859_1))
        .contains("console=ttyS0,115200 quiet\n");
    assertThat(new String(esp(same), StandardCharsets.ISO_8859_1)).doesNotContain(" quiet\n");
  }

  private static byte[] esp(DiskImage d) throws Exception {
    try (var ch = java.nio.channels.FileChannel.open(d.path())) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate((int) d.espSize());
      DiskFiles.readFully(ch, b, d.espOffset());
      return b.array();
    }
  }

  @Test
  void anImageWithoutAKernelIsAnErrorUnlessADataDiskIsAsked() throws Exception {
    Path data =
        TestLayers.layer().dir("srv").file("srv/data", "x").write(tmp.resolve("data.tar.gz"));
    assertThatThrownBy(() -> DiskBuilder.create(SMALL).build(List.of(data), tmp.resolve("x.img")))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("no kernel found in the image (/boot/vmlinuz-*")
        .hasMessageContaining("DiskOptions.dataOnly(true)");
    assertThat(tmp.resolve("x.img")).doesNotExist();

    DiskImage d =
        DiskBuilder.create(SMALL.dataOnly(true)).build(List.of(data), tmp.resolve("data.img"));
    assertThat(d.kernel()).isEmpty();
    assertValid(d);
    assertThat(Tools.debugfs(d, "cat /srv/data")).contains("x");
  }

  @Test
  void aTooSmallSizeSaysHowMuchIsNeeded() throws Exception {
    byte[] big = new byte[200 << 20];
    Path fat =
        TestLayers.layer()
            .dir("boot")
            .file("boot/vmlinuz-1", "k")
            .file("blob", 0644, 0, 0, big)
            .write(tmp.resolve("fat.tar.gz"));
    assertThatThrownBy(
            () ->
                DiskBuilder.create(SMALL.size(128L << 20))
                    .build(List.of(fat), tmp.resolve("x.img")))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("disk size 128.0 MiB is too small for the content: it needs at least")
        .hasMessageContaining("DiskOptions.size(");
  }

  @Test
  void missingHostToolsNameTheirPackages() throws Exception {
    Path empty = Files.createDirectories(tmp.resolve("bin"));
    DiskBuilder b =
        DiskBuilder.create(SMALL)
            .with(HostTools.in(List.of(empty), tmp.resolve("nogrub")), (in, n) -> null);
    assertThatThrownBy(b::checkHostTools)
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("'mke2fs'")
        .hasMessageContaining("'debugfs'")
        .hasMessageContaining("install the Debian packages e2fsprogs coreutils grub-efi-amd64-bin");
    assertThatThrownBy(() -> b.build(List.of(base), tmp.resolve("x.img")))
        .isInstanceOf(DiskException.class);
  }

  // -----------------------------------------------------------------------------------------------------

  static void assertValid(DiskImage d) throws Exception {
    Tools.Out sg = Tools.run("sgdisk", "--verify", d.path().toString());
    assertThat(sg.out()).contains("No problems found");
    Tools.Out sf = Tools.run("sfdisk", "--verify", d.path().toString());
    assertThat(sf.code()).as(sf.out()).isZero();
    Tools.Out fsck = Tools.run("e2fsck", "-fn", d.path() + "?offset=" + d.rootOffset());
    assertThat(fsck.code()).as(fsck.out()).isZero();
    Path esp = d.path().resolveSibling(d.path().getFileName() + ".esp");
    try (var ch = java.nio.channels.FileChannel.open(d.path())) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate((int) d.espSize());
      DiskFiles.readFully(ch, b, d.espOffset());
      Files.write(esp, b.array());
    }
    Tools.Out vfat = Tools.run("fsck.vfat", "-n", esp.toString());
    assertThat(vfat.code()).as(vfat.out()).isZero();
    if (d.kernel().isPresent()) {
      String bootFile = DiskImage.architecture(d.path()).bootFile();
      Tools.Out m = Tools.run("mtype", "-i", esp.toString(), "::/" + bootFile);
      assertThat(m.out()).contains("root=PARTUUID=" + d.rootPartition()).contains("console=ttyS0");
    }
    Files.delete(esp);
  }

  static void assertLayersReadBack(DiskImage d) throws Exception {
    assertThat(Tools.debugfs(d, "cat /etc/motd")).contains("hello from the app");
    assertThat(Tools.debugfs(d, "stat /etc/hostname")).contains("File not found");
    String shadow = Tools.debugfs(d, "stat /etc/shadow");
    assertThat(shadow).contains("Mode:  0640").contains("User:     0   Group:    42");
    assertThat(Tools.debugfs(d, "stat /usr/bin/su")).contains("Mode:  04755").contains("Links: 2");
    assertThat(Tools.debugfs(d, "stat /bin"))
        .contains("Type: symlink")
        .contains("Fast link dest: \"usr/bin\"");
    assertThat(Tools.debugfs(d, "stat /dev/null")).contains("character special").contains("01:03");
    assertThat(Tools.debugfs(d, "stat /dev/initctl")).contains("FIFO").contains("Mode:  0600");
    assertThat(Tools.debugfs(d, "ls /var/cache"))
        .contains("c")
        .doesNotContain(" a ")
        .doesNotContain(" b ");
    assertThat(Tools.debugfs(d, "stat /var/cache/a")).contains("File not found");
    assertThat(Tools.debugfs(d, "cat /var/cache/c")).contains("c");
    assertThat(Tools.debugfs(d, "stat /opt")).contains("Mode:  0700");
    assertThat(Tools.debugfs(d, "stat /opt/app"))
        .contains("Mode:  0750")
        .contains("User:    33   Group:    33");
    assertThat(Tools.debugfs(d, "stat /opt/app/app.jar"))
        .contains("Mode:  0640")
        .contains("Size: 3");
    assertThat(Tools.debugfs(d, "stat /opt/app/current"))
        .contains("Fast link dest: \"/opt/app/app.jar\"");
    assertThat(Tools.debugfs(d, "cat /opt/ping")).contains("replaced");
    assertThat(Tools.debugfs(d, "stat /home/user/.profile"))
        .contains("Mode:  0600")
        .contains("User:  1000");
    assertThat(Tools.debugfs(d, "ea_list /opt/ping")).doesNotContain("security.capability");
    assertThat(Tools.debugfs(d, "ea_list /usr/bin/ping6"))
        .contains("security.capability")
        .contains("capability-bytes");
    assertThat(Tools.debugfs(d, "ea_list /opt/app/app.jar")).contains("user.kiln").contains("yes");
    String times = Tools.debugfs(d, "stat /opt/app/app.jar");
    assertThat(times)
        .contains("ctime: 0x6553f100:00000000")
        .contains("atime: 0x6553f100:00000000")
        .contains("mtime: 0x6553f100:00000000")
        .contains("crtime: 0x6553f100:00000000");
    Path big = d.path().resolveSibling("big.out");
    Tools.run("debugfs", "-R", "dump /opt/big.bin " + big, d.path() + "?offset=" + d.rootOffset());
    assertThat(Files.size(big)).isEqualTo(3 << 20);
    Files.delete(big);
  }
}
