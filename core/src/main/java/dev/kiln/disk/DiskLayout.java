package dev.kiln.disk;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Where things go on a disk and what they are called: the GPT with the ESP at 1 MiB and the root
 * partition after it, aligned to 1 MiB, and the identifiers (disk and partition GUIDs, ext4 UUID
 * and hash seed, FAT serial). A new disk derives its identifiers from a seed, the sha256 of its
 * base layers' files and its options; an extended disk keeps its base disk's ({@link
 * #of(DiskImage)}).
 *
 * @param hashSeed the ext4 hash seed (null for a disk read back: only mke2fs needs it)
 */
record DiskLayout(
    Gpt gpt, Gpt.Partition esp, Gpt.Partition root, UUID fsUuid, UUID hashSeed, int espSerial) {
  private static final long MIB = DiskOptions.MIB;

  /** The layout of a new disk of {@code size} bytes whose identifiers derive from {@code seed}. */
  static DiskLayout of(long size, String seed, DiskOptions options, BootArchitecture arch) {
    long sectors = size / Gpt.SECTOR;
    long espFirst = MIB / Gpt.SECTOR;
    long espLast = espFirst + options.espSize() / Gpt.SECTOR - 1;
    long rootFirst = espLast + 1;
    long rootLast =
        ((sectors - 1 - Gpt.ENTRY_SECTORS) / (MIB / Gpt.SECTOR)) * (MIB / Gpt.SECTOR) - 1;
    Gpt.Partition esp =
        new Gpt.Partition(
            Gpt.ESP_TYPE, Ids.uuid(seed, "esp-partition"), espFirst, espLast, "EFI system");
    Gpt.Partition root =
        new Gpt.Partition(
            arch.rootType(), Ids.uuid(seed, "root-partition"), rootFirst, rootLast, "root");
    Gpt gpt = new Gpt(size, Ids.uuid(seed, "disk"), List.of(esp, root));
    return new DiskLayout(
        gpt,
        esp,
        root,
        Ids.uuid(seed, "ext4-uuid"),
        Ids.uuid(seed, "ext4-hash-seed"),
        Ids.serial(seed, "fat-serial"));
  }

  /** The layout of a disk of {@code arch} read back. */
  static DiskLayout of(DiskImage d, BootArchitecture arch) throws IOException {
    Gpt.Partition esp =
        new Gpt.Partition(
            Gpt.ESP_TYPE,
            d.espPartition(),
            d.espOffset() / Gpt.SECTOR,
            (d.espOffset() + d.espSize()) / Gpt.SECTOR - 1,
            "EFI system");
    Gpt.Partition root =
        new Gpt.Partition(
            arch.rootType(),
            d.rootPartition(),
            d.rootOffset() / Gpt.SECTOR,
            (d.rootOffset() + d.rootSize()) / Gpt.SECTOR - 1,
            "root");
    return new DiskLayout(
        new Gpt(d.size(), d.diskGuid(), List.of(esp, root)),
        esp,
        root,
        d.fsUuid(),
        null,
        d.espSerial());
  }

  /**
   * The seed of a new disk's identifiers: its base layers' sha256s, its options and, for any
   * architecture but x86-64 (whose seed is what it was before there were others), its platform.
   */
  static String seed(List<String> layerSha256s, DiskOptions options, BootArchitecture arch) {
    Hasher h = Hashing.sha256().newHasher();
    h.putString("kiln-disk-v1\n", StandardCharsets.UTF_8);
    for (String sha : layerSha256s) {
      h.putString(sha + "\n", StandardCharsets.UTF_8);
    }
    if (arch != BootArchitecture.X86_64) {
      h.putString("platform=" + arch.platform() + "\n", StandardCharsets.UTF_8);
    }
    h.putString(options.fingerprint(), StandardCharsets.UTF_8);
    return h.hash().toString();
  }

  /** The sha256 of each layer file, in order (what the identifiers are derived from). */
  static List<String> sha256s(List<Path> layers) throws IOException {
    List<String> out = new ArrayList<>();
    for (Path layer : layers) {
      out.add(
          com.google.common.io.Files.asByteSource(layer.toFile())
              .hash(Hashing.sha256())
              .toString());
    }
    return out;
  }

  /** The disk at {@code out} with this layout, booting {@code kernel} if present. */
  DiskImage image(Path out, Optional<Kernel> kernel) {
    return new DiskImage(
        out,
        gpt.diskBytes(),
        gpt.diskGuid(),
        esp.guid(),
        root.guid(),
        fsUuid,
        esp.offset(),
        esp.size(),
        root.offset(),
        root.size(),
        kernel.map(Kernel::kernel),
        kernel.flatMap(Kernel::initrd));
  }
}
