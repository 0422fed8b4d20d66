package dev.kiln.disk;

import dev.kiln.spi.LayerEntry.Type;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The kernel and initramfs an image boots, found the way Debian lays them out: the {@code /vmlinuz}
 * and {@code /initrd.img} links if they point at files, else the newest {@code
 * /boot/vmlinuz-VERSION} and its {@code /boot/initrd.img-VERSION}. Paths are absolute inside the
 * image.
 */
record Kernel(String kernel, Optional<String> initrd) {

  static Optional<Kernel> find(FsTree tree) throws IOException, DiskException {
    String k = resolveLink(tree, "vmlinuz");
    if (k != null) {
      String i = resolveLink(tree, "initrd.img");
      return Optional.of(new Kernel("/" + k, Optional.ofNullable(i).map(s -> "/" + s)));
    }
    List<String> versions = new ArrayList<>();
    for (String n : tree.list("boot")) {
      if (n.startsWith("vmlinuz-") && tree.typeOf("boot/" + n) == Type.FILE) {
        versions.add(n.substring("vmlinuz-".length()));
      }
    }
    if (versions.isEmpty()) {
      return Optional.empty();
    }
    versions.sort(Kernel::compareVersions);
    String v = versions.get(versions.size() - 1);
    String initrd = "boot/initrd.img-" + v;
    return Optional.of(
        new Kernel(
            "/boot/vmlinuz-" + v,
            tree.typeOf(initrd) == Type.FILE ? Optional.of("/" + initrd) : Optional.empty()));
  }

  /**
   * Checks that the kernel is one for {@code arch}, when its file can be read and its format is
   * known: an arm64 {@code Image} (magic {@code ARM\x64} at byte 56), an x86 {@code bzImage}
   * ({@code HdrS} at byte 514) or a PE image of the EFI stub (its machine type), each also gzip
   * compressed as Debian ships arm64 kernels on some releases.
   *
   * @throws DiskException when the kernel is for another architecture, naming it and the package to
   *     install
   */
  void checkArchitecture(FsTree tree, BootArchitecture arch) throws IOException, DiskException {
    byte[] head = tree.head(kernel.substring(1), 4096);
    if (head == null) {
      return;
    }
    String found = architectureOf(head);
    if (found != null && !found.equals(arch.label())) {
      throw new DiskException(
          "the kernel "
              + kernel
              + " is an "
              + found
              + " kernel, but the image is for "
              + arch.platform()
              + " and so is its disk: install a kernel for "
              + arch.label()
              + " in the image (on Debian: "
              + arch.kernelPackage()
              + ")");
    }
  }

  /**
   * The architecture ({@code amd64}, {@code arm64}) of a kernel file by its first bytes, or null.
   */
  static String architectureOf(byte[] head) throws IOException {
    if (head.length >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
      try (java.util.zip.GZIPInputStream z =
          new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(head))) {
        head = z.readNBytes(1024);
      } catch (java.io.EOFException e) {
        return null;
      }
    }
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(head).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    if (head.length >= 60 && b.getInt(56) == 0x644d5241) { // "ARM\x64"
      return "arm64";
    }
    if (head.length >= 518 && b.getInt(514) == 0x53726448) { // "HdrS"
      return "amd64";
    }
    if (head.length >= 64 && head[0] == 'M' && head[1] == 'Z') {
      int pe = b.getInt(0x3c);
      if (pe > 0 && pe + 6 <= head.length && b.getInt(pe) == 0x00004550) { // "PE\0\0"
        int machine = b.getShort(pe + 4) & 0xffff;
        if (machine == 0xaa64) {
          return "arm64";
        }
        if (machine == 0x8664) {
          return "amd64";
        }
      }
    }
    return null;
  }

  /**
   * The file a root-level link points at, if it is a regular file (one level of links inside
   * /boot).
   */
  private static String resolveLink(FsTree tree, String link) throws IOException, DiskException {
    if (tree.typeOf(link) != Type.SYMLINK) {
      return null;
    }
    String t = tree.linkTarget(link);
    String p;
    try {
      p = dev.kiln.spi.LayerEntry.normalize(t);
    } catch (IllegalArgumentException e) {
      return null;
    }
    return tree.typeOf(p) == Type.FILE ? p : null;
  }

  /** Compares version strings piece by piece, numbers numerically ("6.1.0-10" after "6.1.0-9"). */
  static int compareVersions(String a, String b) {
    String[] x = a.split("(?<=\\d)(?=\\D)|(?<=\\D)(?=\\d)");
    String[] y = b.split("(?<=\\d)(?=\\D)|(?<=\\D)(?=\\d)");
    for (int i = 0; i < Math.min(x.length, y.length); i++) {
      int c;
      if (x[i].chars().allMatch(Character::isDigit) && y[i].chars().allMatch(Character::isDigit)) {
        c = new java.math.BigInteger(x[i]).compareTo(new java.math.BigInteger(y[i]));
      } else {
        c = x[i].compareTo(y[i]);
      }
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(x.length, y.length);
  }
}
