package dev.kiln.bench;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Platform;
import dev.kiln.event.BakeEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What emulation costs a bake: the definition of the platforms page (a Debian base, a files layer,
 * a run layer writing {@code uname -m}, a packages layer installing curl; as in provider-docker's
 * {@code MultiPlatformDebianIT}) baked cold for linux/amd64 and for linux/arm64, one platform per
 * bake, into {@code oci-archive:}. Cold: a new store each bake, and the parent images that bake
 * made in the Docker daemon ({@code kiln-parent/…}) removed after it. Prints each layer's
 * provisioning time and the whole bake's, the load average before and after, per round; the order
 * of the platforms alternates from round to round.
 *
 * <pre>
 * java … dev.kiln.bench.PlatformBakeBench AMD64_TAR ARM64_TAR WORKDIR [ROUNDS] [NETWORK] [PACKAGE]
 * </pre>
 *
 * The tarballs are Debian 12 minbase root file systems ({@code scripts/docker/debian-rootfs.sh} and
 * {@code … arm64}); NETWORK is the packages layer's Docker network (default {@code host}), PACKAGE
 * the package it installs (default {@code curl}).
 */
public final class PlatformBakeBench {
  private PlatformBakeBench() {}

  public static void main(String[] args) throws Exception {
    Map<Platform, Path> bases =
        Map.of(Platform.LINUX_AMD64, Path.of(args[0]), Platform.LINUX_ARM64, Path.of(args[1]));
    Path work = Files.createDirectories(Path.of(args[2]).toAbsolutePath());
    int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 1;
    String network = args.length > 4 ? args[4] : "host";
    String pkg = args.length > 5 ? args[5] : "curl";
    Path app = Files.createDirectories(work.resolve("app"));
    Files.writeString(app.resolve("app.conf"), "listen 8080\n");
    Map<Platform, List<Long>> totals = new LinkedHashMap<>();
    for (int round = 0; round < rounds; round++) {
      List<Platform> order =
          round % 2 == 0
              ? List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64)
              : List.of(Platform.LINUX_ARM64, Platform.LINUX_AMD64);
      for (Platform p : order) {
        long ms = bakeCold(p, bases.get(p), app, work, network, pkg, round);
        totals.computeIfAbsent(p, k -> new ArrayList<>()).add(ms);
      }
    }
    long amd = Measure.median(totals.get(Platform.LINUX_AMD64));
    long arm = Measure.median(totals.get(Platform.LINUX_ARM64));
    System.out.printf(
        "RESULT cold bake (median of %d): amd64 %d ms, arm64 %d ms, arm64 / amd64 = %.2fx%n",
        rounds, amd, arm, arm / (double) amd);
  }

  private static long bakeCold(
      Platform platform, Path base, Path app, Path work, String network, String pkg, int round)
      throws Exception {
    String arch = platform.architecture();
    Path store = work.resolve("store-" + arch);
    Path archive = work.resolve(arch + ".tar");
    Measure.deleteTree(store);
    Files.deleteIfExists(archive);
    Set<String> parentsBefore = parentImages();
    Map<String, Long> layerMs = new LinkedHashMap<>();
    String loadBefore = load();
    long t0 = System.nanoTime();
    BakeResult r;
    try (Kiln kiln =
        Kiln.builder()
            .store(store)
            .listener(
                e -> {
                  if (e instanceof BakeEvent.LayerProvisioned lp) {
                    synchronized (layerMs) {
                      layerMs.put(lp.layer() + " (" + lp.kind() + ")", lp.took().toMillis());
                    }
                  }
                })
            .build()) {
      ImageBuild build =
          ImageBuild.from(Base.rootfs(base))
              .layer(Layer.files("app").add(app, "/etc/app"))
              .layer(Layer.run("arch", "uname -m > /etc/built-on"))
              .layer(Layer.packages(pkg).network(network))
              .platforms(platform);
      r = kiln.bake(build, "oci-archive:" + archive + ":v1");
    }
    long ms = Measure.ms(t0);
    Set<String> made = parentImages();
    made.removeAll(parentsBefore);
    for (String image : made) {
      run("docker", "rmi", "-f", image);
    }
    System.out.printf(
        "round %d %s: cold bake %d ms (load %s -> %s), image %s; layers %s%n",
        round, platform, ms, loadBefore, load(), r.digest(), layerMs);
    return ms;
  }

  private static Set<String> parentImages() throws Exception {
    return new TreeSet<>(
        run(
                "docker",
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}}",
                "--filter",
                "reference=kiln-parent/*")
            .lines()
            .filter(s -> !s.isBlank())
            .toList());
  }

  private static String load() throws Exception {
    String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
    return f[0] + "/" + f[1];
  }

  private static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }
}
