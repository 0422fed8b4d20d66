package dev.kiln.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Makes a tiny root file system tarball from the host's busybox-static: /bin/busybox plus /bin/sh
 * and applet links.
 */
public final class Busybox {
  private Busybox() {}

  public static Path rootfs(Path dir) throws IOException {
    return rootfs(dir, Path.of(Tools.require("busybox", "busybox-static")), "busybox-rootfs.tar");
  }

  /**
   * The root file system with {@code /etc/kiln-marker} holding {@code marker}: a base layer no
   * other image shares, for a test that counts which layers a daemon lacks.
   */
  public static Path rootfsMarked(Path dir, String marker) throws IOException {
    return rootfs(
        dir, Path.of(Tools.require("busybox", "busybox-static")), "busybox-marked.tar", marker);
  }

  /** The same root file system around another busybox binary (of another architecture). */
  public static Path rootfs(Path dir, Path busybox, String name) throws IOException {
    return rootfs(dir, busybox, name, null);
  }

  private static Path rootfs(Path dir, Path busybox, String name, String marker)
      throws IOException {
    Path tar = dir.resolve(name);
    try (OutputStream os = Files.newOutputStream(tar);
        TarArchiveOutputStream t = new TarArchiveOutputStream(os)) {
      t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (String d : new String[] {"bin/", "etc/", "tmp/", "root/"}) {
        TarArchiveEntry e = new TarArchiveEntry(d);
        e.setMode(d.equals("tmp/") ? 041777 : 040755);
        t.putArchiveEntry(e);
        t.closeArchiveEntry();
      }
      TarArchiveEntry bb = new TarArchiveEntry("bin/busybox");
      bb.setMode(0100755);
      bb.setSize(Files.size(busybox));
      t.putArchiveEntry(bb);
      Files.copy(busybox, t);
      t.closeArchiveEntry();
      for (String applet :
          new String[] {
            "sh",
            "cat",
            "ls",
            "echo",
            "rm",
            "mkdir",
            "sed",
            "stat",
            "id",
            "env",
            "sleep",
            "wc",
            "test",
            "true",
            "false",
            "chmod",
            "touch",
            "head",
            "tail",
            "grep",
            "find",
            "sha256sum",
            "printf",
            "mv",
            "cp",
            "ln",
            "date",
            "uname"
          }) {
        TarArchiveEntry l = new TarArchiveEntry("bin/" + applet, TarArchiveEntry.LF_SYMLINK);
        l.setLinkName("busybox");
        l.setMode(0120777);
        t.putArchiveEntry(l);
        t.closeArchiveEntry();
      }
      file(
          t,
          "etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n");
      file(t, "etc/group", "root:x:0:\napp:x:1000:\n");
      if (marker != null) {
        file(t, "etc/kiln-marker", marker + "\n");
      }
    }
    return tar;
  }

  private static void file(TarArchiveOutputStream t, String name, String content)
      throws IOException {
    byte[] b = content.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setMode(0100644);
    e.setSize(b.length);
    t.putArchiveEntry(e);
    t.write(b);
    t.closeArchiveEntry();
  }
}
