package dev.kiln.bench;

import dev.kiln.Platform;
import dev.kiln.disk.DiskBuilder;
import dev.kiln.disk.DiskImage;
import dev.kiln.disk.DiskOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The cost of an arm64 disk against an amd64 one: the full build of the Debian 12 base's raw disk
 * of each platform (the fixtures of {@code scripts/disk/debian-rootfs.sh} and {@code … arm64}), the
 * same options, the order alternating from round to round, medians after one warm-up round of both.
 * Every build of one platform must give one sha256.
 *
 * <pre>
 * java -Dkiln.grub.arm64-efi=DIR … dev.kiln.bench.DiskPlatformsBench AMD64_TAR ARM64_TAR WORKDIR [ROUNDS]
 * </pre>
 */
public final class DiskPlatformsBench {
  private DiskPlatformsBench() {}

  public static void main(String[] args) throws Exception {
    Path amdTar = Path.of(args[0]);
    Path armTar = Path.of(args[1]);
    Path work = Files.createDirectories(Path.of(args[2]));
    int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 5;
    DiskOptions options = DiskOptions.defaults().size(2L << 30).timestamp(1_700_000_000L);
    DiskBuilder amd = DiskBuilder.create(options);
    DiskBuilder arm = DiskBuilder.create(options).forPlatform(Platform.LINUX_ARM64);
    List<Long> amdMs = new ArrayList<>();
    List<Long> armMs = new ArrayList<>();
    Set<String> amdSha = new HashSet<>();
    Set<String> armSha = new HashSet<>();
    System.out.printf(
        "amd64 rootfs %s (%d MB), arm64 rootfs %s (%d MB), %d rounds after a warm-up%n",
        amdTar, Files.size(amdTar) >> 20, armTar, Files.size(armTar) >> 20, rounds);
    for (int round = 0; round <= rounds; round++) {
      boolean armFirst = round % 2 == 1;
      long a = 0;
      long r = 0;
      for (int side = 0; side < 2; side++) {
        boolean doArm = (side == 0) == armFirst;
        Path out = work.resolve(doArm ? "arm64.img" : "amd64.img");
        Files.deleteIfExists(out);
        new ProcessBuilder("sync").inheritIO().start().waitFor();
        long t0 = System.nanoTime();
        DiskImage d = (doArm ? arm : amd).build(List.of(doArm ? armTar : amdTar), out);
        long ms = Measure.ms(t0);
        String sha = Measure.sha256(d.path());
        if (doArm) {
          r = ms;
          armSha.add(sha);
        } else {
          a = ms;
          amdSha.add(sha);
        }
      }
      System.out.printf(
          "round %d%s: amd64 %d ms, arm64 %d ms (arm64/amd64 %.2fx), load %s%n",
          round, round == 0 ? " (warm-up)" : "", a, r, r / (double) a, load());
      if (round > 0) {
        amdMs.add(a);
        armMs.add(r);
      }
    }
    long ma = Measure.median(amdMs);
    long mr = Measure.median(armMs);
    System.out.printf(
        "median: amd64 %d ms, arm64 %d ms, arm64/amd64 %.2fx; sha256s: amd64 %s, arm64 %s%n",
        ma, mr, mr / (double) ma, amdSha, armSha);
    Files.deleteIfExists(work.resolve("arm64.img"));
    Files.deleteIfExists(work.resolve("amd64.img"));
    if (amdSha.size() != 1 || armSha.size() != 1) {
      throw new IllegalStateException("a platform's builds gave more than one sha256");
    }
  }

  private static String load() throws java.io.IOException {
    return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
  }
}
