package dev.kiln.disk;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import dev.kiln.spi.LayerReader;
import java.io.IOException;
import java.io.BufferedInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import com.google.common.hash.HashingInputStream;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a bootable raw GPT disk from the layers of an image, without root, mounts or loop devices: an EFI system
 * partition (FAT32 written in Java) holding GRUB ({@code grub-mkimage}, configuration embedded) that boots the
 * kernel and initramfs found in the image with {@code root=PARTUUID=…}, and an ext4 root partition made by
 * {@code mke2fs -d} under fakeroot (declared owners, modes and device numbers) and, for layers added on top of an
 * existing disk, changed in place with {@code debugfs -w}.
 *
 * <h2>Reproducibility and the layered layout</h2>
 *
 * The bytes of a disk are a function of its layers, its options and a <em>base boundary</em> {@code k}:
 *
 * <pre>
 *   disk(L1..Ln; k) = extend(build(L1..Lk), Lk+1..Ln)      and      disk(L1..Ln; n) = build(L1..Ln)
 * </pre>
 *
 * {@link #build(List, Path)} lays out its layers from scratch; {@link #extend(Path, List, Path)} copies a disk and
 * applies more layers to its root file system in place (new data goes to free blocks, only the metadata it touches
 * changes), so the result differs from the base disk in few 512 KiB blocks, which is what lets an EBS snapshot be
 * uploaded incrementally. {@code k} must come from the <em>definition</em>, never from what happens to be cached:
 * the engine uses the layers of the image's base ({@code ImageBuild.from(...)}) as {@code L1..Lk}. Then the disk
 * of an image has the same sha256 whether its base disk was cached or built on the spot ({@link #build(List, int,
 * Path)} does the latter). Identifiers (disk and partition GUIDs, ext4 UUID and hash seed, FAT serial) are derived
 * from the sha256 of the base layers' files and the options; an extended disk keeps its base disk's identifiers.
 * Every inode's times and the file system's own times are {@link DiskOptions#timestamp()}; layer mtimes are not
 * used (canonical layers fix them anyway).
 *
 * <p>Host tools: e2fsprogs ({@code mke2fs}, {@code debugfs}), fakeroot, GRUB ({@code grub-mkimage} from grub-common
 * and the x86_64-efi modules from grub-efi-amd64-bin), coreutils {@code cp}. They are checked before any work, and a
 * missing one is a {@link DiskException} naming its Debian package.
 *
 * <p>Thread-safe: a builder holds only immutable configuration; concurrent builds must write different outputs.
 */
public final class DiskBuilder {
  private static final Logger log = LoggerFactory.getLogger(DiskBuilder.class);
  private static final long MIB = DiskOptions.MIB;
  private static final long GIB = DiskOptions.GIB;
  private static final int BLOCK = 4096;
  private static final int INODE_RATIO = 16384;
  private static final int INODE_SIZE = 256;

  /** Reads a layer from a stream (plain or gzip tar); the tar reader of core unless a test substitutes its own. */
  @FunctionalInterface
  interface LayerOpener {
    LayerReader open(InputStream in, String name) throws IOException;
  }

  private final DiskOptions options;
  private final HostTools tools;
  private final LayerOpener opener;
  private final Path workDirectory;

  private DiskBuilder(DiskOptions options, HostTools tools, LayerOpener opener, Path workDirectory) {
    this.options = options;
    this.tools = tools;
    this.opener = opener;
    this.workDirectory = workDirectory;
  }

  /** A builder with the given options. */
  public static DiskBuilder create(DiskOptions options) {
    return new DiskBuilder(options, HostTools.system(), dev.kiln.internal.tar.TarLayerReader::of, null);
  }

  /** A builder with {@link DiskOptions#defaults()}. */
  public static DiskBuilder create() {
    return create(DiskOptions.defaults());
  }

  DiskBuilder with(HostTools tools, LayerOpener opener) {
    return new DiskBuilder(options, tools, opener, workDirectory);
  }

  /**
   * Where the flattened file system is unpacked for {@code mke2fs -d} (default: a temporary directory next to the
   * output). A tmpfs such as {@code /dev/shm} makes full builds faster when it has room for the image's files.
   */
  public DiskBuilder withWorkDirectory(Path dir) {
    return new DiskBuilder(options, tools, opener, dir);
  }

  private Path stagingDir(Path work) {
    return workDirectory == null
        ? work.resolve("root")
        : workDirectory.resolve(work.getFileName().toString() + "-root");
  }

  public DiskOptions options() {
    return options;
  }

  /**
   * Checks that every host tool a build needs is installed.
   *
   * @throws DiskException naming each missing tool and the Debian package that provides it
   */
  public void checkHostTools() throws DiskException {
    tools.require(options.requireKernel(), "mke2fs", "debugfs", "fakeroot", "cp");
    if (options.requireKernel()) {
      tools.require(true, "grub-mkimage");
    }
  }

  /**
   * Builds the disk of {@code layers} (gzip or plain tars, lowest first) from scratch into {@code out} (replaced
   * atomically; nothing is left behind on failure).
   */
  public DiskImage build(List<Path> layers, Path out) throws IOException, DiskException {
    checkArgument(!layers.isEmpty(), "a disk needs at least one layer");
    checkHostTools();
    Path work = workDir(out);
    try {
      long t0 = System.nanoTime();
      // the layers are read once: staged and hashed (for the identifiers' seed) in the same pass
      Hasher seedHash = Hashing.sha256().newHasher();
      seedHash.putString("kiln-disk-v1\n", StandardCharsets.UTF_8);
      Staging staging = new Staging(stagingDir(work));
      for (Path layer : layers) {
        try (HashingInputStream in =
                new HashingInputStream(
                    Hashing.sha256(), new BufferedInputStream(Files.newInputStream(layer), 1 << 20));
            LayerReader r = opener.open(in, layer.getFileName().toString())) {
          staging.apply(r, layer.getFileName().toString());
          in.transferTo(OutputStream.nullOutputStream());
          seedHash.putString(in.hash() + "\n", StandardCharsets.UTF_8);
        }
      }
      seedHash.putString(options.fingerprint(), StandardCharsets.UTF_8);
      String s = seedHash.hash().toString();
      long t1 = System.nanoTime();
      Optional<Kernel> kernel = Kernel.find(staging);
      if (kernel.isEmpty() && options.requireKernel()) {
        throw new DiskException(
            "no kernel found in the image (/boot/vmlinuz-* or the /vmlinuz link): add a layer that installs one"
                + " (on Debian: linux-image-cloud-amd64), or build a data disk with DiskOptions.withDataOnly(true)");
      }
      if (kernel.isPresent()) {
        tools.require(true, "grub-mkimage");
      }
      long fsMin = minFsBytes(staging);
      long needed = MIB + options.espSize() + fsMin + MIB;
      long size = options.size().orElse(roundUp(needed + options.freeSpace(), GIB));
      if (size < needed) {
        throw new DiskException(
            "disk size " + human(size) + " is too small for the content: it needs at least " + human(needed)
                + " (" + human(staging.contentBytes()) + " of files, " + staging.entries().size()
                + " entries, plus the ESP and file system overhead): use DiskOptions.withSize("
                + roundUp(needed, MIB) + "L) or more, or the automatic size");
      }
      Layout l = layout(size, s);
      Path tmp = work.resolve("disk.img");
      try (RandomAccessFile f = new RandomAccessFile(tmp.toFile(), "rw")) {
        f.setLength(size);
      }
      Path state = work.resolve("fakeroot.state");
      staging.writeFakerootState(state);
      long tState = System.nanoTime();
      mkfs(tmp, l, staging.root(), state, work, staging.entries().size());
      long tMkfs = System.nanoTime();
      Map<String, String> env = env();
      Debugfs debugfs = new Debugfs(tools, tmp, l.root().offset(), work, env);
      List<String> xattrCmds = new ArrayList<>();
      int n = 0;
      for (Map.Entry<String, Staging.Meta> e : staging.withXattrs()) {
        for (Map.Entry<String, byte[]> x : e.getValue().xattrs().entrySet()) {
          Path v = work.resolve("xattr" + (n++));
          Files.write(v, x.getValue());
          xattrCmds.add(
              "ea_set -f " + Debugfs.q(v.toString()) + " " + Debugfs.q("/" + e.getKey()) + " "
                  + Debugfs.q(x.getKey()));
        }
      }
      debugfs.run(xattrCmds, true);
      staging.delete();
      long t2 = System.nanoTime();
      log.debug("state file {} ms, mke2fs {} ms, xattrs and cleanup {} ms", (tState - t1) / 1_000_000,
          (tMkfs - tState) / 1_000_000, (t2 - tMkfs) / 1_000_000);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        new Ext4Inodes(ch, l.root().offset()).pinTimes(options.timestamp());
        SuperblockTimes.pin(ch, l.root().offset(), options.timestamp());
        byte[] esp = esp(kernel, l.fsUuid(), l.root().guid(), l.espSerial(), l.esp(), work);
        DiskFiles.writeNonZero(ch, esp, l.esp().offset());
        l.gpt().write(ch);
        ch.force(false);
      }
      Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      long t3 = System.nanoTime();
      log.info(
          "built {} ({}): staged {} entries in {} ms, ext4 in {} ms, ESP+GPT in {} ms",
          out, human(size), staging.entries().size(), (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000,
          (t3 - t2) / 1_000_000);
      return image(out, l, kernel);
    } finally {
      deleteTree(work);
      if (workDirectory != null) {
        deleteTree(stagingDir(work));
      }
    }
  }

  /**
   * The disk of {@code layers} with the first {@code baseLayers} as its base: exactly
   * {@code extend(build(layers[0..k]), layers[k..n])}, built without a cache. Use this when the base disk is not
   * cached; the bytes are the same as through a cached base disk.
   */
  public DiskImage build(List<Path> layers, int baseLayers, Path out) throws IOException, DiskException {
    checkArgument(baseLayers >= 1 && baseLayers <= layers.size(), "base boundary %s out of 1..%s", baseLayers,
        layers.size());
    if (baseLayers == layers.size()) {
      return build(layers, out);
    }
    Path work = workDir(out);
    try {
      Path base = work.resolve("base.img");
      build(layers.subList(0, baseLayers), base);
      return extend(base, layers.subList(baseLayers, layers.size()), out);
    } finally {
      deleteTree(work);
    }
  }

  /**
   * Copies {@code baseDisk} (a disk this class built) to {@code out} and applies {@code moreLayers} to its root file
   * system in place; the ESP is rewritten only where the boot configuration changed. The disk keeps the base disk's
   * size and identifiers; the layers must fit in its free space.
   */
  public DiskImage extend(Path baseDisk, List<Path> moreLayers, Path out) throws IOException, DiskException {
    tools.require(false, "mke2fs", "debugfs", "cp");
    DiskImage base = DiskImage.read(baseDisk);
    Path work = workDir(out);
    try {
      long t0 = System.nanoTime();
      Path tmp = work.resolve("disk.img");
      HostTools.run(
          List.of(tools.path("cp"), "--sparse=always", "--reflink=auto", baseDisk.toString(), tmp.toString()),
          Map.of(), null, true);
      long t1 = System.nanoTime();
      Debugfs debugfs = new Debugfs(tools, tmp, base.rootOffset(), work, env());
      Path spool = Files.createDirectory(work.resolve("spool"));
      ExtendPlan plan = new ExtendPlan(new Ext4Tree(debugfs, work), spool);
      for (Path layer : moreLayers) {
        try (LayerReader r =
            opener.open(new BufferedInputStream(Files.newInputStream(layer), 1 << 20), layer.getFileName().toString())) {
          plan.addLayer(r, layer.getFileName().toString());
        }
      }
      long free;
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ)) {
        free = new Ext4Inodes(ch, base.rootOffset()).freeBytes();
      }
      long need = plan.bytes() + plan.bytes() / 50 + 8 * MIB;
      if (need > free) {
        throw new DiskException(
            "the layers add " + human(plan.bytes()) + " but the base disk " + baseDisk + " has only " + human(free)
                + " free in its root file system: build the base disk with more free space"
                + " (DiskOptions.withFreeSpace) or a larger size (DiskOptions.withSize)");
      }
      debugfs.run(plan.commands(), true);
      Optional<Kernel> kernel = Kernel.find(new Ext4Tree(debugfs, work));
      if (kernel.isEmpty() && options.requireKernel()) {
        throw new DiskException(
            "no kernel found in the image (/boot/vmlinuz-* or the /vmlinuz link) after applying " + moreLayers
                + ": add a layer that installs one (on Debian: linux-image-cloud-amd64), or build a data disk"
                + " with DiskOptions.withDataOnly(true)");
      }
      Layout l = layoutOf(base);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        new Ext4Inodes(ch, base.rootOffset()).pinTimes(options.timestamp());
        SuperblockTimes.pin(ch, base.rootOffset(), options.timestamp());
        if (kernel.isPresent()) {
          tools.require(true, "grub-mkimage");
          byte[] esp = esp(kernel, base.fsUuid(), base.rootPartition(), base.espSerial(), l.esp(), work);
          DiskFiles.writeChanged(ch, esp, base.espOffset());
        }
        ch.force(false);
      }
      Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      long t2 = System.nanoTime();
      log.info(
          "extended {} into {} with {} layer(s), {} of files: copy {} ms, apply {} ms", baseDisk, out,
          moreLayers.size(), human(plan.bytes()), (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
      return image(out, l, kernel);
    } finally {
      deleteTree(work);
    }
  }

  // ---------------------------------------------------------------------------------------------------------

  /** Where things go on the disk. */
  record Layout(Gpt gpt, Gpt.Partition esp, Gpt.Partition root, UUID fsUuid, UUID hashSeed, int espSerial) {}

  private Layout layout(long size, String seed) {
    long sectors = size / Gpt.SECTOR;
    long espFirst = MIB / Gpt.SECTOR;
    long espLast = espFirst + options.espSize() / Gpt.SECTOR - 1;
    long rootFirst = espLast + 1;
    long rootLast = ((sectors - 1 - Gpt.ENTRY_SECTORS) / (MIB / Gpt.SECTOR)) * (MIB / Gpt.SECTOR) - 1;
    Gpt.Partition esp =
        new Gpt.Partition(Gpt.ESP_TYPE, Ids.uuid(seed, "esp-partition"), espFirst, espLast, "EFI system");
    Gpt.Partition root =
        new Gpt.Partition(Gpt.ROOT_X86_64_TYPE, Ids.uuid(seed, "root-partition"), rootFirst, rootLast, "root");
    Gpt gpt = new Gpt(size, Ids.uuid(seed, "disk"), List.of(esp, root));
    return new Layout(gpt, esp, root, Ids.uuid(seed, "ext4-uuid"), Ids.uuid(seed, "ext4-hash-seed"),
        Ids.serial(seed, "fat-serial"));
  }

  private static Layout layoutOf(DiskImage d) throws IOException {
    Gpt.Partition esp = new Gpt.Partition(Gpt.ESP_TYPE, d.espPartition(), d.espOffset() / Gpt.SECTOR,
        (d.espOffset() + d.espSize()) / Gpt.SECTOR - 1, "EFI system");
    Gpt.Partition root = new Gpt.Partition(Gpt.ROOT_X86_64_TYPE, d.rootPartition(), d.rootOffset() / Gpt.SECTOR,
        (d.rootOffset() + d.rootSize()) / Gpt.SECTOR - 1, "root");
    return new Layout(new Gpt(d.size(), d.diskGuid(), List.of(esp, root)), esp, root, d.fsUuid(), null,
        d.espSerial());
  }

  private DiskImage image(Path out, Layout l, Optional<Kernel> kernel) {
    return new DiskImage(
        out, l.gpt().diskBytes(), l.gpt().diskGuid(), l.esp().guid(), l.root().guid(), l.fsUuid(),
        l.esp().offset(), l.esp().size(), l.root().offset(), l.root().size(),
        kernel.map(Kernel::kernel), kernel.flatMap(Kernel::initrd));
  }

  private byte[] esp(Optional<Kernel> kernel, UUID fsUuid, UUID rootPart, int serial, Gpt.Partition esp, Path work)
      throws DiskException {
    Fat32 fat = new Fat32(esp.size(), serial, options.timestamp(), esp.firstLba());
    if (kernel.isPresent()) {
      String cfg = Grub.config(kernel.get(), fsUuid, rootPart, options);
      fat.add("EFI/BOOT/BOOTX64.EFI", Grub.image(tools, cfg, work));
    }
    return fat.image();
  }

  /** The smallest ext4 file system (bytes, whole MiB) that holds the staged content. */
  static long minFsBytes(Staging s) {
    long data = s.dataBlocks(BLOCK) * BLOCK;
    long inodesNeeded = s.entries().size() + 1024L;
    long f = Math.max(data, 64 * MIB);
    for (int i = 0; i < 20; i++) {
      long blocks = f / BLOCK;
      long journal = journalBlocks(blocks) * BLOCK;
      long itable = (f / INODE_RATIO) * INODE_SIZE;
      long groups = (blocks + 32767) / 32768;
      long overhead = journal + itable + groups * 3 * BLOCK + 16 * MIB;
      long next = Math.max((data + overhead) * 101 / 100, inodesNeeded * INODE_RATIO);
      next = roundUp(next, MIB);
      if (next <= f) {
        return f;
      }
      f = next;
    }
    return f;
  }

  /** e2fsprogs' ext2fs_default_journal_size. */
  static long journalBlocks(long blocks) {
    if (blocks < 32768) {
      return 1024;
    } else if (blocks < 256 * 1024) {
      return 4096;
    } else if (blocks < 512 * 1024) {
      return 8192;
    } else if (blocks < 4096 * 1024) {
      return 16384;
    } else if (blocks < 8192 * 1024) {
      return 32768;
    } else if (blocks < 16384 * 1024) {
      return 65536;
    } else if (blocks < 32768 * 1024) {
      return 131072;
    }
    return 262144;
  }

  /** The mke2fs configuration: fixed here so that the host's /etc/mke2fs.conf cannot change the bytes. */
  static final String MKE2FS_CONF =
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

  private void mkfs(Path disk, Layout l, Path root, Path state, Path work, int entries)
      throws IOException, DiskException {
    Path conf = work.resolve("mke2fs.conf");
    Files.writeString(conf, MKE2FS_CONF, StandardCharsets.US_ASCII);
    Map<String, String> env = new java.util.HashMap<>(env());
    env.put("MKE2FS_CONFIG", conf.toString());
    List<String> cmd =
        List.of(
            tools.path("fakeroot"), "-i", state.toString(), "--",
            tools.path("mke2fs"), "-q", "-F", "-t", "ext4", "-b", String.valueOf(BLOCK), "-m", "0",
            "-L", "root", "-U", l.fsUuid().toString(),
            "-E", "offset=" + l.root().offset() + ",hash_seed=" + l.hashSeed() + ",num_backup_sb=0",
            "-d", root.toString(), disk.toString(), (l.root().size() / 1024) + "k");
    HostTools.Result r = HostTools.run(cmd, env, null, false);
    if (r.exitCode() != 0) {
      String err = r.stderr() + r.stdout();
      if (err.contains("Could not allocate") || err.contains("No space left") || err.contains("inodes")) {
        throw new DiskException(
            "disk size " + human(l.gpt().diskBytes()) + " is too small for the content (" + entries
                + " entries): mke2fs ran out of space; use a larger DiskOptions.withSize or the automatic size\n"
                + HostTools.tail(err));
      }
      throw new DiskException("mke2fs failed (exit code " + r.exitCode() + "):\n" + HostTools.tail(err));
    }
  }

  private Map<String, String> env() {
    return Map.of("E2FSPROGS_FAKE_TIME", String.valueOf(options.timestamp()), "TZ", "UTC");
  }

  private static Path workDir(Path out) throws IOException {
    Path dir = out.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    return Files.createTempDirectory(dir, ".kiln-disk-");
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      List<Path> all = walk.sorted(java.util.Comparator.reverseOrder()).toList();
      for (Path x : all) {
        Files.deleteIfExists(x);
      }
    }
  }

  static long roundUp(long v, long unit) {
    return (v + unit - 1) / unit * unit;
  }

  static String human(long bytes) {
    if (bytes >= GIB) {
      return String.format("%.2f GiB", bytes / (double) GIB);
    }
    return String.format("%.1f MiB", bytes / (double) MIB);
  }
}
