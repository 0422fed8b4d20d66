package dev.kiln.disk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs {@code mke2fs -d}, which makes the root file system of a new disk from the staging
 * directory, at the root partition's offset of the scratch disk file, with a configuration of
 * Kiln's own (the host's {@code /etc/mke2fs.conf} does not matter) and the layout's UUID and hash
 * seed. No fakeroot: the declared owners, modes and device numbers are written into the inodes
 * afterwards ({@link DeclaredMetadata}, {@link Ext4Inodes#pinTimes}).
 */
final class Mke2fs {
  /** Block size, bytes per inode and inode size of {@link #CONF}. */
  static final int BLOCK = 4096;

  static final int INODE_RATIO = 16384;
  static final int INODE_SIZE = 256;

  /**
   * The mke2fs configuration: fixed here so that the host's /etc/mke2fs.conf cannot change the
   * bytes.
   */
  static final String CONF =
      "[defaults]\n"
          + "\tbase_features = sparse_super2,large_file,filetype,dir_index,ext_attr\n"
          + "\tdefault_mntopts = acl,user_xattr\n"
          + "\tenable_periodic_fsck = 0\n"
          + "\tblocksize = 4096\n"
          + "\tinode_size = 256\n"
          + "\tinode_ratio = 16384\n"
          + "\tlazy_itable_init = false\n"
          + "\tlazy_journal_init = false\n"
          + "\n[fs_types]\n"
          + "\text4 = {\n"
          + "\t\tfeatures = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize\n"
          + "\t}\n";

  private Mke2fs() {}

  /**
   * The environment of every e2fsprogs run (mke2fs, debugfs): the clock they stamp with is {@code
   * timestamp}, in UTC.
   */
  static Map<String, String> env(long timestamp) {
    return Map.of("E2FSPROGS_FAKE_TIME", String.valueOf(timestamp), "TZ", "UTC");
  }

  /**
   * Makes the ext4 of {@code l}'s root partition in {@code disk} from the directory {@code root}
   * ({@code entries} staged entries, named if it runs out of space); {@code work} holds its
   * configuration file.
   */
  static void run(
      HostTools tools, long timestamp, Path disk, DiskLayout l, Path root, Path work, int entries)
      throws IOException, DiskException {
    Path conf = work.resolve("mke2fs.conf");
    Files.writeString(conf, CONF, StandardCharsets.US_ASCII);
    Map<String, String> env = new HashMap<>(env(timestamp));
    env.put("MKE2FS_CONFIG", conf.toString());
    List<String> cmd =
        List.of(
            tools.path("mke2fs"),
            "-q",
            "-F",
            "-t",
            "ext4",
            "-b",
            String.valueOf(BLOCK),
            "-m",
            "0",
            "-L",
            "root",
            "-U",
            l.fsUuid().toString(),
            "-E",
            "offset="
                + l.root().offset()
                + ",hash_seed="
                + l.hashSeed()
                + ",num_backup_sb=0,root_owner=0:0",
            "-d",
            root.toString(),
            disk.toString(),
            (l.root().size() / 1024) + "k");
    HostTools.Result r = HostTools.run(cmd, env, null, false);
    if (r.exitCode() != 0) {
      String err = r.stderr() + r.stdout();
      if (err.contains("Could not allocate")
          || err.contains("No space left")
          || err.contains("inodes")) {
        throw new DiskException(
            "disk size "
                + DiskBuilder.human(l.gpt().diskBytes())
                + " is too small for the content ("
                + entries
                + " entries): mke2fs ran out of space; use a larger DiskOptions.size or the automatic size\n"
                + HostTools.tail(err));
      }
      throw new DiskException(
          "mke2fs failed (exit code " + r.exitCode() + "):\n" + HostTools.tail(err));
    }
  }
}
