package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.disk.DiskBuilder;
import dev.kiln.disk.DiskException;
import dev.kiln.disk.DiskImage;
import dev.kiln.disk.DiskOptions;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A layer whose entry lies below a path that a lower layer made a symlink or a file: writing it
 * would go through that symlink (out of the image, or onto another file) or need a directory that
 * is not there. A disk build and a disk extension refuse it the same way, naming the layer, the
 * entry and what its parent is, and leave no disk behind.
 */
class DiskWriteThroughTest {
  private static final DiskOptions DATA =
      DiskOptions.defaults().dataOnly(true).freeSpace(32L << 20).timestamp(1);

  @TempDir Path tmp;
  Path base;
  Path through;
  Path underFile;

  @BeforeEach
  void layers() throws IOException {
    Tools.require("mke2fs", "e2fsprogs");
    Tools.require("debugfs", "e2fsprogs");
    base = tar("base.tar", dir("usr"), dir("usr/bin"), symlink("bin", "usr/bin"), file("etc"));
    through = tar("through.tar", file("bin/sh"));
    underFile = tar("under-file.tar", file("etc/hostname"));
  }

  @Test
  void aBuildRefusesAnEntryBelowASymlinkOrAFileOfALowerLayer() {
    DiskBuilder b = DiskBuilder.create(DATA);
    Path out = tmp.resolve("disk.img");
    assertThatThrownBy(() -> b.build(List.of(base, through), out))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "layer through.tar: entry /bin/sh would be written through /bin, which is a symlink"
                + " (to usr/bin), not a directory");
    assertThatThrownBy(() -> b.build(List.of(base, underFile), out))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "layer under-file.tar: entry /etc/hostname would be written through /etc, which is a"
                + " file, not a directory");
    assertThat(out).doesNotExist();
  }

  @Test
  void anExtensionRefusesTheSameEntries() throws Exception {
    DiskBuilder b = DiskBuilder.create(DATA);
    DiskImage baseDisk = b.build(List.of(base), tmp.resolve("base.img"));
    Path out = tmp.resolve("app.img");
    assertThatThrownBy(() -> b.extend(baseDisk.path(), List.of(through), out))
        .isInstanceOf(DiskException.class)
        .hasMessage(
            "layer through.tar: entry /bin/sh would be written through /bin, which is a symlink,"
                + " not a directory");
    assertThatThrownBy(() -> b.extend(baseDisk.path(), List.of(underFile), out))
        .isInstanceOf(DiskException.class)
        .hasMessage(
            "layer under-file.tar: entry /etc/hostname would be written through /etc, which is a"
                + " file, not a directory");
    assertThat(out).doesNotExist();
  }

  private static TarArchiveEntry dir(String path) {
    TarArchiveEntry e = new TarArchiveEntry(path + "/");
    e.setMode(040755);
    return e;
  }

  private static TarArchiveEntry file(String path) {
    TarArchiveEntry e = new TarArchiveEntry(path);
    e.setMode(0100644);
    e.setSize(2);
    return e;
  }

  private static TarArchiveEntry symlink(String path, String target) {
    TarArchiveEntry e = new TarArchiveEntry(path, TarConstants.LF_SYMLINK);
    e.setLinkName(target);
    e.setMode(0120777);
    return e;
  }

  private Path tar(String name, TarArchiveEntry... entries) throws IOException {
    Path p = tmp.resolve(name);
    try (OutputStream os = Files.newOutputStream(p);
        TarArchiveOutputStream t = new TarArchiveOutputStream(os)) {
      t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (TarArchiveEntry e : entries) {
        e.setModTime(1000L);
        t.putArchiveEntry(e);
        if (e.getSize() > 0) {
          t.write("x\n".getBytes(StandardCharsets.UTF_8));
        }
        t.closeArchiveEntry();
      }
    }
    return p;
  }
}
