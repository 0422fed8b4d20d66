package dev.kiln.disk;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.Platform;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds a bootable raw GPT disk from the layers of an image, without root, mounts or loop devices:
 * an EFI system partition (FAT32 written in Java) holding GRUB ({@code grub-mkimage}, configuration
 * embedded) that boots the kernel and initramfs found in the image with {@code root=PARTUUID=…},
 * and an ext4 root partition made by {@code mke2fs -d} (the declared owners, modes and device
 * numbers then written into its inodes in Java, so no fakeroot) and, for layers added on top of an
 * existing disk, changed in place with {@code debugfs -w}.
 *
 * <h2>Reproducibility and the layered layout</h2>
 *
 * The bytes of a disk are a function of its layers, its options and a <em>base boundary</em> {@code
 * k}:
 *
 * <pre>
 *   disk(L1..Ln; k) = extend(build(L1..Lk), Lk+1..Ln)      and      disk(L1..Ln; n) = build(L1..Ln)
 * </pre>
 *
 * {@link #build(List, Path)} lays out its layers from scratch; {@link #extend(Path, List, Path)}
 * copies a disk and applies more layers to its root file system in place (new data goes to free
 * blocks, only the metadata it touches changes), so the result differs from the base disk in few
 * 512 KiB blocks, which is what lets an EBS snapshot be uploaded incrementally. {@code k} must come
 * from the <em>definition</em>, never from what happens to be cached: the engine uses the layers of
 * the image's base ({@code ImageBuild.from(...)}) as {@code L1..Lk}. Then the disk of an image has
 * the same sha256 whether its base disk was cached or built on the spot ({@link #build(List, int,
 * Path)} does the latter). Identifiers (disk and partition GUIDs, ext4 UUID and hash seed, FAT
 * serial) are derived from the sha256 of the base layers' files and the options; an extended disk
 * keeps its base disk's identifiers. Every inode's times and the file system's own times are {@link
 * DiskOptions#timestamp()}; layer mtimes are not used (canonical layers fix them anyway).
 *
 * <p>Host tools: e2fsprogs ({@code mke2fs}, {@code debugfs}), GRUB ({@code grub-mkimage} from
 * grub-common and the x86_64-efi modules from grub-efi-amd64-bin, or for arm64 disks the arm64-efi
 * modules from grub-efi-arm64-bin), coreutils {@code cp}. They are checked before any work, and a
 * missing one is a {@link DiskException} naming its Debian package.
 *
 * <p>Thread-safe: a builder holds only immutable configuration; concurrent builds must write
 * different outputs. {@link FullBuild} and {@link DiskExtension} do the work of {@code build} and
 * {@code extend}, step by step.
 */
public final class DiskBuilder {
  private static final long MIB = DiskOptions.MIB;
  private static final long GIB = DiskOptions.GIB;

  private final BuilderSettings settings;

  private DiskBuilder(BuilderSettings settings) {
    this.settings = settings;
  }

  /** A builder with the given options. */
  public static DiskBuilder create(DiskOptions options) {
    return new DiskBuilder(BuilderSettings.of(options));
  }

  /** A builder with {@link DiskOptions#defaults()}. */
  public static DiskBuilder create() {
    return create(DiskOptions.defaults());
  }

  DiskBuilder with(HostTools tools, LayerOpener opener) {
    return new DiskBuilder(settings.with(tools, opener));
  }

  /**
   * Where the flattened file system is unpacked for {@code mke2fs -d} and the disk is made before
   * it is copied next to the output. By default it is {@code /dev/shm} (a tmpfs: unpacking there is
   * several times faster than on a disk, and the fsync calls of mke2fs and debugfs cost nothing)
   * when it has room for twice the layers and so does the memory, else a temporary directory next
   * to the output. It is always removed before a build returns; ones left behind by a killed
   * process are removed by the next build.
   */
  public DiskBuilder workDirectory(Path dir) {
    return new DiskBuilder(settings.withWorkDirectory(dir));
  }

  /**
   * @deprecated use {@link #workDirectory(Path)}
   */
  @Deprecated(since = "0.2")
  public DiskBuilder withWorkDirectory(Path dir) {
    return workDirectory(dir);
  }

  /**
   * Whether the disk is flushed to stable storage ({@code fsync}) before it is moved into place
   * (default: off, like the rest of Kiln's store; the move is atomic either way). It costs about as
   * long as writing the disk's data to the device, 0.5-1 s for a 400 MB root file system.
   */
  public DiskBuilder durableWrites(boolean on) {
    return new DiskBuilder(settings.withDurable(on));
  }

  /**
   * @deprecated use {@link #durableWrites(boolean)}
   */
  @Deprecated(since = "0.2")
  public DiskBuilder withDurableWrites(boolean on) {
    return durableWrites(on);
  }

  /**
   * A builder of disks for images of {@code platform}: {@code linux/amd64} (the default: GRUB for
   * {@code x86_64-efi} as {@code \EFI\BOOT\BOOTX64.EFI}, an x86-64 root partition) or {@code
   * linux/arm64} (GRUB for {@code arm64-efi} as {@code \EFI\BOOT\BOOTAA64.EFI}, an ARM64 root
   * partition, {@link DiskOptions#DEFAULT_ARM64_CONSOLES}). The platform is part of the seed of an
   * arm64 disk's identifiers, so the disks of one files-only image differ per platform.
   *
   * @throws DiskException for any other platform
   */
  public DiskBuilder forPlatform(Platform platform) throws DiskException {
    return new DiskBuilder(settings.withArch(BootArchitecture.of(platform)));
  }

  /** The platform of the images whose disks this builder makes. */
  public Platform platform() {
    return settings.arch().platform();
  }

  DiskBuilder withFullCopy(boolean on) {
    return new DiskBuilder(settings.withFullCopy(on));
  }

  public DiskOptions options() {
    return settings.options();
  }

  /**
   * Checks that every host tool a build needs is installed.
   *
   * @throws DiskException naming each missing tool and the Debian package that provides it
   */
  public void checkHostTools() throws DiskException {
    HostTools tools = settings.tools();
    tools.require(options().requireKernel() ? settings.arch() : null, "mke2fs", "debugfs", "cp");
    if (options().requireKernel()) {
      tools.require(settings.arch(), "grub-mkimage");
    }
  }

  /**
   * Builds the disk of {@code layers} (gzip or plain tars, lowest first) from scratch into {@code
   * out} (replaced atomically; nothing is left behind on failure).
   *
   * <p>Steps (each timed in the INFO log line): the layers are unpacked into a staging directory (a
   * background thread does the file system calls) while another thread hashes them for the
   * identifiers' seed; {@code mke2fs -d} (no fakeroot) writes the ext4 into a scratch disk file
   * while another thread builds the ESP (grub-mkimage, FAT32); the ESP and the GPT are written;
   * then, while the staging directory is deleted and the scratch disk is copied sparsely next to
   * {@code out} in the background, Java walks the new file system's directories, writes the
   * declared owners, modes and device numbers into the inodes mke2fs made and pins every inode's
   * times, in one pass over the inode tables; last the blocks that pass changed are written over
   * the copy. Staging and scratch disk are on {@code /dev/shm} when it has room (see {@link
   * #workDirectory}), where the fsync calls of mke2fs cost nothing.
   */
  public DiskImage build(List<Path> layers, Path out) throws IOException, DiskException {
    checkArgument(!layers.isEmpty(), "a disk needs at least one layer");
    checkHostTools();
    return new FullBuild(settings).run(layers, out);
  }

  /**
   * The disk of {@code layers} with the first {@code baseLayers} as its base: exactly {@code
   * extend(build(layers[0..k]), layers[k..n])}, built without a cache. Use this when the base disk
   * is not cached; the bytes are the same as through a cached base disk.
   */
  public DiskImage build(List<Path> layers, int baseLayers, Path out)
      throws IOException, DiskException {
    checkArgument(
        baseLayers >= 1 && baseLayers <= layers.size(),
        "base boundary %s out of 1..%s",
        baseLayers,
        layers.size());
    if (baseLayers == layers.size()) {
      return build(layers, out);
    }
    Path work = ScratchSpace.workDir(out);
    try {
      Path base = work.resolve("base.img");
      build(layers.subList(0, baseLayers), base);
      return extend(base, layers.subList(baseLayers, layers.size()), out);
    } finally {
      ScratchSpace.delete(null, work);
    }
  }

  /**
   * Copies {@code baseDisk} (a disk this class built) to {@code out} and applies {@code moreLayers}
   * to its root file system in place. The disk keeps the base disk's size and identifiers; the
   * layers must fit in its free space. The ESP is kept as it is unless the GRUB configuration it
   * embeds would change (another kernel or initramfs, other kernel arguments): then it is rebuilt
   * and written back where it differs.
   *
   * <p>Steps: the base disk is copied next to {@code out} in the background ({@code cp
   * --sparse=always --reflink=auto}) while its root file system's metadata (everything but
   * regular-file data, see {@link Ext4Blocks}) is copied to a scratch file on {@code /dev/shm} and
   * the layers are read and planned against the base disk (its directories are read in Java); then
   * one {@code debugfs -w} session applies the plan to the scratch file and the inode times are
   * pinned in Java; last the blocks that changed are carried over to the copy. A base disk whose
   * file system this class cannot read that way is copied whole to the scratch directory instead.
   */
  public DiskImage extend(Path baseDisk, List<Path> moreLayers, Path out)
      throws IOException, DiskException {
    settings.tools().require(null, "debugfs", "cp");
    return new DiskExtension(settings).run(baseDisk, moreLayers, out);
  }

  /** {@code v} rounded up to a multiple of {@code unit}. */
  static long roundUp(long v, long unit) {
    return (v + unit - 1) / unit * unit;
  }

  /** A size as messages and the log show it: {@code 1.00 GiB}, {@code 130.0 MiB}. */
  static String human(long bytes) {
    if (bytes >= GIB) {
      return String.format("%.2f GiB", bytes / (double) GIB);
    }
    return String.format("%.1f MiB", bytes / (double) MIB);
  }
}
