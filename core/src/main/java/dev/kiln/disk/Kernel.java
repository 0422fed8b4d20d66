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
