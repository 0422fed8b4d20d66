package dev.kiln.disk;

import dev.kiln.spi.LayerEntry.Type;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the layers declare about each staged entry and the host files in the staging directory
 * cannot carry (they are all owned by the build's user, with the host's permissions; devices and
 * FIFOs are empty files): the type, mode, owner and device number each inode {@code mke2fs -d} made
 * must get, and the extended attributes. Writing these afterwards is what lets a build run without
 * root or fakeroot.
 */
final class DeclaredMetadata {
  private DeclaredMetadata() {}

  /**
   * Matches the staged entries to the inodes mke2fs made (by walking the new file system's
   * directories) and returns what each inode must become: the declared type, mode, owner and device
   * number. Devices and FIFOs were staged as empty regular files; their directory entries get their
   * real file type here, their inodes in the patch pass; each directory block changed so is added
   * to {@code written} as {position, length}.
   */
  static Map<Long, Ext4Inodes.Patch> inodePatches(
      Ext4Dirs dirs, Staging staging, List<long[]> written) throws IOException, DiskException {
    Map<String, Ext4Dirs.Dirent> onDisk = dirs.walk();
    Map<Long, Ext4Inodes.Patch> patches = new HashMap<>();
    patches.put(Ext4Dirs.ROOT_INO, new Ext4Inodes.Patch(0040755, 0, 0, 0, 0));
    Ext4Dirs.Dirent lostFound = onDisk.get("lost+found");
    if (lostFound != null && !staging.entries().containsKey("lost+found")) {
      int mode = dirs.inodes().inode(lostFound.ino()).getShort(0) & 0xffff;
      patches.put(lostFound.ino(), new Ext4Inodes.Patch(mode, 0, 0, 0, 0));
    }
    for (Map.Entry<String, Staging.Meta> e : staging.entries().entrySet()) {
      Ext4Dirs.Dirent d = onDisk.get(e.getKey());
      if (d == null) {
        if (e.getKey().startsWith("lost+found/")) {
          continue; // mke2fs -d does not copy into the lost+found it makes
        }
        throw new DiskException("mke2fs did not write /" + e.getKey() + " into the file system");
      }
      Staging.Meta m = e.getValue();
      int fmt =
          switch (m.type()) {
            case DIRECTORY -> 0040000;
            case FILE -> 0100000;
            case SYMLINK -> 0120000;
            case CHAR_DEVICE -> 0020000;
            case BLOCK_DEVICE -> 0060000;
            case FIFO -> 0010000;
            default -> throw new IllegalStateException(m.type().toString());
          };
      int perm = m.type() == Type.SYMLINK ? 0777 : m.mode();
      patches.put(
          d.ino(), new Ext4Inodes.Patch(fmt | perm, m.uid(), m.gid(), m.major(), m.minor()));
      int ft = Ext4Dirs.fileType(m.type());
      if (d.fileType() != ft) {
        if (d.fileType() != Ext4Dirs.FT_REG
            || ft == Ext4Dirs.FT_REG
            || ft == Ext4Dirs.FT_DIR
            || ft == Ext4Dirs.FT_SYMLINK) {
          throw new DiskException(
              "mke2fs wrote /"
                  + e.getKey()
                  + " as file type "
                  + d.fileType()
                  + ", not "
                  + m.type().name().toLowerCase());
        }
        dirs.setFileType(d, ft);
        written.add(new long[] {d.blockPos(), dirs.inodes().blockSize});
      }
    }
    return patches;
  }

  /**
   * The {@code debugfs} commands that set the staged extended attributes, their values spooled to
   * files in {@code work}.
   */
  static List<String> xattrCommands(Staging staging, Path work) throws IOException, DiskException {
    List<String> cmds = new ArrayList<>();
    int n = 0;
    for (Map.Entry<String, Staging.Meta> e : staging.withXattrs()) {
      for (Map.Entry<String, byte[]> x : e.getValue().xattrs().entrySet()) {
        Path v = work.resolve("xattr" + (n++));
        Files.write(v, x.getValue());
        cmds.add(
            "ea_set -f "
                + Debugfs.q(v.toString())
                + " "
                + Debugfs.q("/" + e.getKey())
                + " "
                + Debugfs.q(x.getKey()));
      }
    }
    return cmds;
  }
}
