package dev.kiln.disk;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * How a disk is laid out and booted. Immutable and thread-safe: every setter ({@code size(…)},
 * {@code kernelArgs(…)}, …) returns a copy.
 *
 * <pre>{@code
 * DiskOptions o = DiskOptions.defaults().size(8L << 30).kernelArgs("quiet", "net.ifnames=0");
 * }</pre>
 */
public final class DiskOptions {
  /** How firmware boots the disk. Only UEFI for now; legacy BIOS may follow. */
  public enum BootMode {
    UEFI
  }

  static final long MIB = 1L << 20;
  static final long GIB = 1L << 30;

  /**
   * The default kernel console arguments: the last console is /dev/console, so the serial port gets
   * boot logs.
   */
  public static final List<String> DEFAULT_CONSOLES =
      List.of("console=tty0", "console=ttyS0,115200");

  /**
   * The default kernel console arguments of arm64 disks: the PL011 UART of QEMU's {@code virt}
   * machine and most Arm boards ({@code ttyAMA0}) and the 16550-compatible UART of EC2 Graviton
   * instances ({@code ttyS0}). A machine has one of them; it gets the boot log and {@code
   * /dev/console}. No {@code tty0}: with it, {@code /dev/console} would be the screen on a machine
   * without the last-named UART.
   */
  public static final List<String> DEFAULT_ARM64_CONSOLES =
      List.of("console=ttyAMA0,115200", "console=ttyS0,115200");

  private final long size; // 0 = automatic
  private final long freeSpace;
  private final long espSize;
  private final List<String> kernelArgs;
  private final boolean defaultConsoles;
  private final BootMode bootMode;
  private final boolean requireKernel;
  private final long timestamp;

  private DiskOptions(
      long size,
      long freeSpace,
      long espSize,
      List<String> kernelArgs,
      boolean defaultConsoles,
      BootMode bootMode,
      boolean requireKernel,
      long timestamp) {
    this.size = size;
    this.freeSpace = freeSpace;
    this.espSize = espSize;
    this.kernelArgs = List.copyOf(kernelArgs);
    this.defaultConsoles = defaultConsoles;
    this.bootMode = Objects.requireNonNull(bootMode);
    this.requireKernel = requireKernel;
    this.timestamp = timestamp;
  }

  /**
   * Automatic size (content plus {@link #freeSpace()}, rounded up to a whole GiB), 1 GiB of free
   * space, a 64 MiB ESP, UEFI, the default consoles, a kernel required, and the time stamp of every
   * file and of the file systems from {@code SOURCE_DATE_EPOCH} if set, else 1 second after the
   * epoch (the layer format's rule).
   */
  public static DiskOptions defaults() {
    return new DiskOptions(
        0, GIB, 64 * MIB, List.of(), true, BootMode.UEFI, true, defaultTimestamp());
  }

  static long defaultTimestamp() {
    String s = System.getenv("SOURCE_DATE_EPOCH");
    if (s != null && s.matches("[0-9]{1,12}")) {
      return Long.parseLong(s);
    }
    return 1;
  }

  /**
   * A fixed disk size in bytes (a multiple of 1 MiB); the build fails, saying how much is needed,
   * if it is too small.
   */
  public DiskOptions size(long bytes) {
    checkArgument(
        bytes > 0 && bytes % MIB == 0, "disk size must be a positive multiple of 1 MiB: %s", bytes);
    return new DiskOptions(
        bytes, freeSpace, espSize, kernelArgs, defaultConsoles, bootMode, requireKernel, timestamp);
  }

  /**
   * @deprecated use {@link #size(long)}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withSize(long bytes) {
    return size(bytes);
  }

  /** Lets the disk size follow the content again (the default). */
  public DiskOptions automaticSize() {
    return new DiskOptions(
        0, freeSpace, espSize, kernelArgs, defaultConsoles, bootMode, requireKernel, timestamp);
  }

  /**
   * @deprecated use {@link #automaticSize()}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withAutomaticSize() {
    return automaticSize();
  }

  /** Free space to leave in the root file system when the size is automatic. */
  public DiskOptions freeSpace(long bytes) {
    checkArgument(bytes >= 0, "negative free space: %s", bytes);
    return new DiskOptions(
        size, bytes, espSize, kernelArgs, defaultConsoles, bootMode, requireKernel, timestamp);
  }

  /**
   * @deprecated use {@link #freeSpace(long)}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withFreeSpace(long bytes) {
    return freeSpace(bytes);
  }

  /** Size of the EFI system partition (FAT32 needs at least 33 MiB). */
  public DiskOptions espSize(long bytes) {
    checkArgument(
        bytes >= 34 * MIB && bytes % MIB == 0,
        "ESP size must be a multiple of 1 MiB, at least 34 MiB: %s",
        bytes);
    return new DiskOptions(
        size, freeSpace, bytes, kernelArgs, defaultConsoles, bootMode, requireKernel, timestamp);
  }

  /**
   * @deprecated use {@link #espSize(long)}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withEspSize(long bytes) {
    return espSize(bytes);
  }

  /** Kernel command line arguments added after {@code root=… rw} and the default consoles. */
  public DiskOptions kernelArgs(String... args) {
    for (String a : args) {
      checkArgument(
          a != null
              && !a.isBlank()
              && a.chars().noneMatch(c -> c == '\n' || c == '\'' || c == '"' || c == '\\'),
          "kernel argument must be non-blank without quotes, backslashes or newlines: %s",
          a);
    }
    return new DiskOptions(
        size,
        freeSpace,
        espSize,
        List.of(args),
        defaultConsoles,
        bootMode,
        requireKernel,
        timestamp);
  }

  /**
   * @deprecated use {@link #kernelArgs(String...)}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withKernelArgs(String... args) {
    return kernelArgs(args);
  }

  /**
   * Whether the default consoles go on the kernel command line (on by default): {@link
   * #DEFAULT_CONSOLES}, or {@link #DEFAULT_ARM64_CONSOLES} on an arm64 disk.
   */
  public DiskOptions defaultConsoles(boolean on) {
    return new DiskOptions(
        size, freeSpace, espSize, kernelArgs, on, bootMode, requireKernel, timestamp);
  }

  /**
   * @deprecated use {@link #defaultConsoles(boolean)}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withDefaultConsoles(boolean on) {
    return defaultConsoles(on);
  }

  /** How firmware boots the disk ({@link BootMode#UEFI}, the default and only mode for now). */
  public DiskOptions bootMode(BootMode mode) {
    return new DiskOptions(
        size, freeSpace, espSize, kernelArgs, defaultConsoles, mode, requireKernel, timestamp);
  }

  /**
   * @deprecated use {@link #bootMode(BootMode)}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withBootMode(BootMode mode) {
    return bootMode(mode);
  }

  /**
   * A data disk: the image need not have a kernel. Without one the ESP holds no boot loader and the
   * disk does not boot; with one it boots as usual.
   */
  public DiskOptions dataOnly(boolean dataOnly) {
    return new DiskOptions(
        size, freeSpace, espSize, kernelArgs, defaultConsoles, bootMode, !dataOnly, timestamp);
  }

  /**
   * @deprecated use {@link #dataOnly(boolean)}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withDataOnly(boolean dataOnly) {
    return dataOnly(dataOnly);
  }

  /** The time (seconds since the epoch) given to every inode and to the file systems. */
  public DiskOptions timestamp(long epochSeconds) {
    checkArgument(
        epochSeconds >= 0 && epochSeconds < (1L << 32), "timestamp out of range: %s", epochSeconds);
    return new DiskOptions(
        size,
        freeSpace,
        espSize,
        kernelArgs,
        defaultConsoles,
        bootMode,
        requireKernel,
        epochSeconds);
  }

  /**
   * @deprecated use {@link #timestamp(long)}
   */
  @Deprecated(since = "0.2")
  public DiskOptions withTimestamp(long epochSeconds) {
    return timestamp(epochSeconds);
  }

  /** The fixed size, or empty when it follows the content. */
  public OptionalLong size() {
    return size == 0 ? OptionalLong.empty() : OptionalLong.of(size);
  }

  public long freeSpace() {
    return freeSpace;
  }

  public long espSize() {
    return espSize;
  }

  public List<String> kernelArgs() {
    return kernelArgs;
  }

  public boolean defaultConsoles() {
    return defaultConsoles;
  }

  public BootMode bootMode() {
    return bootMode;
  }

  public boolean requireKernel() {
    return requireKernel;
  }

  public long timestamp() {
    return timestamp;
  }

  /** Everything that changes the bytes of a disk, for the seed of its identifiers. */
  String fingerprint() {
    return "size="
        + size
        + ";free="
        + freeSpace
        + ";esp="
        + espSize
        + ";args="
        + kernelArgs
        + ";consoles="
        + defaultConsoles
        + ";boot="
        + bootMode
        + ";kernel="
        + requireKernel
        + ";t="
        + timestamp;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DiskOptions d && d.fingerprint().equals(fingerprint());
  }

  @Override
  public int hashCode() {
    return fingerprint().hashCode();
  }

  @Override
  public String toString() {
    return "DiskOptions{" + fingerprint() + "}";
  }
}
