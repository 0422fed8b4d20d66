package dev.kiln.spi;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.kiln.spi.LayerEntry.Type;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;

/**
 * Turns the entries commons-compress parses into checked {@link LayerEntry} values for {@link
 * TarLayerReader}: OCI whiteouts, types, owners, links (through the layer's {@link TarPathGuard})
 * and extended attributes. An entry that is no image content (the root, a volume label, aufs
 * bookkeeping) maps to {@code null}.
 */
final class TarEntryMapper {
  private static final String WHITEOUT_PREFIX = ".wh.";
  private static final String META_PREFIX = ".wh..wh.";
  private static final String OPAQUE_NAME = ".wh..wh..opq";

  private final String source;
  private final TarPathGuard paths;

  TarEntryMapper(String source) {
    this.source = source;
    this.paths = new TarPathGuard(source);
  }

  /**
   * The entry {@code te} as a layer entry, or {@code null} to skip it; {@code rawXattrs} are its
   * extended attributes as the raw headers hold them (null if they were not captured), and {@code
   * contentOf} opens the bytes of a file entry at the given path.
   */
  LayerEntry convert(
      TarArchiveEntry te,
      Map<String, byte[]> rawXattrs,
      Function<String, LayerEntry.Content> contentOf)
      throws IOException {
    String name = te.getName();
    String path = paths.normalize(name);
    if (path == null) {
      return null; // the root directory itself
    }
    char flag = (char) te.getLinkFlag();
    if (flag == 'V') {
      return null; // a volume label, not a file
    }
    if (path.startsWith(META_PREFIX)) {
      return null; // aufs metadata (.wh..wh.plnk/, .wh..wh.aufs) at the top, never image content:
      // Docker skips it too
    }
    int slash = path.lastIndexOf('/');
    String base = path.substring(slash + 1);
    String parent = slash < 0 ? null : path.substring(0, slash);
    paths.checkNotThroughSymlink(name, path);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base.equals(OPAQUE_NAME)) {
        if (parent == null) {
          throw new IOException(
              "tar entry '"
                  + name
                  + "' in "
                  + source
                  + " is an opaque whiteout of the image root, which is not supported");
        }
        return make(name, parent, Type.OPAQUE_WHITEOUT, 0, 0, 0, 0, "", 0, 0, Map.of(), null);
      }
      if (base.startsWith(META_PREFIX)) {
        return null; // other aufs bookkeeping names
      }
      String deleted = base.substring(WHITEOUT_PREFIX.length());
      if (deleted.isEmpty() || deleted.equals(".") || deleted.equals("..")) {
        throw new UnsafeLayerException(
            "tar entry '"
                + name
                + "' in "
                + source
                + " is a whiteout of '"
                + deleted
                + "', which would escape its directory");
      }
      return make(
          name,
          parent == null ? deleted : parent + "/" + deleted,
          Type.WHITEOUT,
          0,
          0,
          0,
          0,
          "",
          0,
          0,
          Map.of(),
          null);
    }

    Type type = typeOf(te, flag, name);
    int mode = te.getMode() & 07777;
    long uid = te.getLongUserId();
    long gid = te.getLongGroupId();
    if (uid < 0 || uid > Integer.MAX_VALUE || gid < 0 || gid > Integer.MAX_VALUE) {
      throw new IOException(
          "tar entry '"
              + name
              + "' in "
              + source
              + " has uid/gid "
              + uid
              + "/"
              + gid
              + ", out of the supported range");
    }
    String link = "";
    if (type == Type.SYMLINK) {
      link = te.getLinkName();
      paths.symlink(path, link);
    } else {
      // A directory or file replaces a symlink of the same name on extraction; what follows may use
      // the path.
      paths.replace(path);
    }
    if (type == Type.HARDLINK) {
      String target = paths.normalize(te.getLinkName());
      if (target == null) {
        throw new UnsafeLayerException(
            "tar entry '" + name + "' in " + source + " is a hard link to the image root");
      }
      paths.checkNotThroughSymlink(name + "' -> '" + te.getLinkName(), target);
      link = target;
    }
    Map<String, byte[]> xattrs = rawXattrs != null ? rawXattrs : decodedXattrs(te);
    if (type != Type.FILE) {
      return make(
          name,
          path,
          type,
          mode,
          (int) uid,
          (int) gid,
          0,
          link,
          te.getDevMajor(),
          te.getDevMinor(),
          xattrs,
          null);
    }
    long size = te.isSparse() ? te.getRealSize() : te.getSize();
    LayerEntry.Content content = contentOf.apply(path);
    return make(name, path, type, mode, (int) uid, (int) gid, size, "", 0, 0, xattrs, content);
  }

  private Type typeOf(TarArchiveEntry te, char flag, String name) throws IOException {
    switch (flag) {
      case '1':
        return Type.HARDLINK;
      case '2':
        return Type.SYMLINK;
      case '3':
        return Type.CHAR_DEVICE;
      case '4':
        return Type.BLOCK_DEVICE;
      case '5':
      case 'D': // GNU dumpdir: a directory with a listing as content
        return Type.DIRECTORY;
      case '6':
        return Type.FIFO;
      case '0':
      case '\0':
      case '7': // contiguous file: a regular file everywhere but on a few old Unixes
      case 'S': // GNU sparse file
        // v7 archives mark directories only by the trailing slash
        return te.isDirectory() ? Type.DIRECTORY : Type.FILE;
      default:
        throw new IOException(
            "tar entry '" + name + "' in " + source + " has the unsupported type '" + flag + "'");
    }
  }

  private LayerEntry make(
      String name,
      String path,
      Type type,
      int mode,
      int uid,
      int gid,
      long size,
      String link,
      int devMajor,
      int devMinor,
      Map<String, byte[]> xattrs,
      LayerEntry.Content content)
      throws IOException {
    try {
      return new LayerEntry(
          path, type, mode, uid, gid, size, link, devMajor, devMinor, xattrs, content);
    } catch (IllegalArgumentException e) {
      throw new IOException(
          "invalid tar entry '" + name + "' in " + source + ": " + e.getMessage(), e);
    }
  }

  /**
   * Fallback when the raw header was not captured: commons-compress's UTF-8 reading of the values.
   */
  private static Map<String, byte[]> decodedXattrs(TarArchiveEntry te) {
    Map<String, byte[]> xattrs = new TreeMap<>();
    for (Map.Entry<String, String> h : te.getExtraPaxHeaders().entrySet()) {
      if (h.getKey().startsWith(TarHeaderChain.XATTR_PREFIX)) {
        xattrs.put(
            h.getKey().substring(TarHeaderChain.XATTR_PREFIX.length()),
            h.getValue().getBytes(UTF_8));
      }
    }
    return xattrs;
  }
}
