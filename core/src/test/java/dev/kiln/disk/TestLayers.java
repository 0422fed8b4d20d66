package dev.kiln.disk;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Writes small gzip PAX layer tars for tests, the way Kiln lays them out (fixed mtime, numeric
 * owners).
 */
public final class TestLayers {
  private final List<TarArchiveEntry> entries = new ArrayList<>();
  private final List<byte[]> contents = new ArrayList<>();
  private long mtime = 1;

  public static TestLayers layer() {
    return new TestLayers();
  }

  TestLayers mtime(long t) {
    this.mtime = t;
    return this;
  }

  TestLayers dir(String path, int mode, int uid, int gid) {
    TarArchiveEntry e = new TarArchiveEntry(path.endsWith("/") ? path : path + "/");
    return add(e, mode, uid, gid, null);
  }

  public TestLayers dir(String path) {
    return dir(path, 0755, 0, 0);
  }

  public TestLayers file(String path, int mode, int uid, int gid, byte[] content) {
    TarArchiveEntry e = new TarArchiveEntry(path);
    e.setSize(content.length);
    return add(e, mode, uid, gid, content);
  }

  public TestLayers file(String path, String content) {
    return file(path, 0644, 0, 0, content.getBytes(StandardCharsets.UTF_8));
  }

  TestLayers file(String path, int mode, String content) {
    return file(path, mode, 0, 0, content.getBytes(StandardCharsets.UTF_8));
  }

  TestLayers symlink(String path, String target) {
    TarArchiveEntry e = new TarArchiveEntry(path, TarConstants.LF_SYMLINK);
    e.setLinkName(target);
    return add(e, 0777, 0, 0, null);
  }

  TestLayers hardlink(String path, String target) {
    TarArchiveEntry e = new TarArchiveEntry(path, TarConstants.LF_LINK);
    e.setLinkName(target);
    return add(e, 0644, 0, 0, null);
  }

  TestLayers charDevice(String path, int mode, int major, int minor) {
    TarArchiveEntry e = new TarArchiveEntry(path, TarConstants.LF_CHR);
    e.setDevMajor(major);
    e.setDevMinor(minor);
    return add(e, mode, 0, 0, null);
  }

  TestLayers fifo(String path, int mode) {
    TarArchiveEntry e = new TarArchiveEntry(path, TarConstants.LF_FIFO);
    return add(e, mode, 0, 0, null);
  }

  TestLayers whiteout(String path) {
    int s = path.lastIndexOf('/');
    String wh = s < 0 ? ".wh." + path : path.substring(0, s + 1) + ".wh." + path.substring(s + 1);
    return file(wh, 0644, 0, 0, new byte[0]);
  }

  TestLayers opaque(String dir) {
    return file(dir + "/.wh..wh..opq", 0644, 0, 0, new byte[0]);
  }

  TestLayers xattr(String name, String value) {
    TarArchiveEntry last = entries.get(entries.size() - 1);
    last.addPaxHeader("SCHILY.xattr." + name, value);
    return this;
  }

  private TestLayers add(TarArchiveEntry e, int mode, int uid, int gid, byte[] content) {
    e.setMode((e.getMode() & ~07777) | mode);
    e.setUserId(uid);
    e.setGroupId(gid);
    e.setUserName("");
    e.setGroupName("");
    e.setModTime(mtime * 1000);
    entries.add(e);
    contents.add(content);
    return this;
  }

  public Path write(Path file) throws IOException {
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file));
        TarArchiveOutputStream tar =
            new TarArchiveOutputStream(out, StandardCharsets.UTF_8.name())) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      for (int i = 0; i < entries.size(); i++) {
        tar.putArchiveEntry(entries.get(i));
        if (contents.get(i) != null) {
          tar.write(contents.get(i));
        }
        tar.closeArchiveEntry();
      }
    }
    return file;
  }

  static Map<String, String> env() {
    return Map.of();
  }
}
