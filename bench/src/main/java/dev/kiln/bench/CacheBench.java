package dev.kiln.bench;

import static dev.kiln.bench.Measure.deleteTree;
import static dev.kiln.bench.Measure.median;
import static dev.kiln.bench.Measure.ms;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.spi.RemoteCache;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The remote cache benchmark (issue #8): a cold bake on a fresh machine (empty store, no parent
 * images in the daemon) with a warm remote cache, against the same cold bake with no remote cache.
 * Scenarios:
 *
 * <ul>
 *   <li>{@code jdk}: a busybox root file system and a files layer of a JDK tree (the core
 *       benchmark's tree);
 *   <li>{@code run}: a busybox root file system and a run layer that does real work in a container
 *       (4000 small files and 40 copies of busybox, deterministic so both bakes give one image);
 *   <li>{@code ansible}: the Debian minbase root file system and an Ansible layer running the
 *       example's web server role ({@link #ansible}).
 * </ul>
 *
 * The remote is seeded by one bake (not timed); then, per run, each mode bakes into a fresh store:
 * no cache, the warm remote cache with its default check (size and blob digest), and the warm
 * remote cache that also decompresses every pulled layer to check its diffID ({@code
 * RemoteCache.Verify.CONTENT}); one warm-up round is not counted. Bakes go to the local store only:
 * publishing costs the same with and without a cache.
 *
 * <p>Usage: {@code CacheBench WORKDIR REMOTE_URI [RUNS] [JDK_DIR] [SCENARIOS]}
 * (scripts/bench-cache.sh starts a docker-registry on loopback and passes {@code
 * docker://127.0.0.1:PORT/bench-cache}). Prints one line per run and {@code RESULT} lines with
 * medians.
 */
public final class CacheBench {
  static final String[] WORK = {
    "mkdir -p /opt/work/files",
    "i=0; while [ $i -lt 4000 ]; do echo \"file $i of the stand-in play\" > /opt/work/files/f$i.conf; i=$((i+1)); done",
    "i=0; while [ $i -lt 40 ]; do cat /bin/busybox; i=$((i+1)); done > /opt/work/blob.bin",
    "echo done > /opt/work/marker"
  };

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]).toAbsolutePath();
    String remote = args[1];
    int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    Path jdkSource = Path.of(args.length > 3 ? args[3] : "/usr/lib/jvm/java-17-openjdk-amd64");
    List<String> scenarios = List.of((args.length > 4 ? args[4] : "jdk,run").split(","));
    Files.createDirectories(work);
    Path rootfs = DockerBench.busyboxRootfs(work.resolve("busybox-rootfs.tar"));
    Path jdk = work.resolve("jdk");
    if (!Files.isDirectory(jdk)) {
      DockerBench.class
          .getName(); // same copy as the Docker benchmark: a tree of our own, no dangling links
      Process p =
          new ProcessBuilder("cp", "-a", jdkSource + "/.", jdk.toString()).inheritIO().start();
      if (p.waitFor() != 0) {
        throw new IllegalStateException("cp of " + jdkSource + " failed");
      }
      new ProcessBuilder("find", jdk.toString(), "-xtype", "l", "-delete")
          .inheritIO()
          .start()
          .waitFor();
    }
    Map<String, ImageBuild> builds = new LinkedHashMap<>();
    for (String s : scenarios) {
      switch (s) {
        case "jdk" ->
            builds.put(
                s,
                ImageBuild.from(Base.rootfs(rootfs))
                    .layer(Layer.files("jdk").add(jdk, "/opt/jdk")));
        case "run" ->
            builds.put(s, ImageBuild.from(Base.rootfs(rootfs)).layer(Layer.run("play", WORK)));
        case "ansible" -> builds.put(s, ansible(work, rootfs));
        default ->
            throw new IllegalArgumentException("unknown scenario " + s + " (jdk, run, ansible)");
      }
    }
    System.out.printf(
        Locale.ROOT,
        "machine: %d cores, load %s; remote %s; jdk tree %s (%s)%n",
        Runtime.getRuntime().availableProcessors(),
        Files.readString(Path.of("/proc/loadavg")).strip(),
        remote,
        jdkSource,
        du(jdk));
    for (Map.Entry<String, ImageBuild> e : builds.entrySet()) {
      String name = e.getKey();
      ImageBuild build = e.getValue();
      Path store = work.resolve("store-" + name);
      deleteTree(store);
      DockerBench.removeParentImagesQuietly();
      BakeResult seeded = bake(store, build, remote, RemoteCache.Verify.DIGEST, ev -> {});
      long bytes = seeded.layers().stream().mapToLong(l -> l.size()).sum();
      System.out.printf(
          Locale.ROOT,
          "scenario %s: %d layers, %.1f MiB compressed; remote seeded%n",
          name,
          seeded.layers().size(),
          bytes / 1048576.0);
      List<Long> none = new ArrayList<>();
      List<Long> cached = new ArrayList<>();
      List<Long> content = new ArrayList<>();
      for (int i = -1; i < runs; i++) {
        deleteTree(store);
        DockerBench.removeParentImagesQuietly();
        long t0 = System.nanoTime();
        BakeResult plain = bake(store, build, null, null);
        long n = ms(t0);
        deleteTree(store);
        DockerBench.removeParentImagesQuietly();
        long t1 = System.nanoTime();
        Phases phases = new Phases(t1);
        BakeResult fromRemote = bake(store, build, remote, RemoteCache.Verify.DIGEST, phases);
        long c = ms(t1);
        deleteTree(store);
        DockerBench.removeParentImagesQuietly();
        long t2 = System.nanoTime();
        BakeResult checked = bake(store, build, remote, RemoteCache.Verify.CONTENT, ev -> {});
        long v = ms(t2);
        for (BakeResult r : List.of(fromRemote, checked)) {
          if (!r.provisioned().isEmpty() || !r.digest().equals(plain.digest())) {
            throw new IllegalStateException(
                "bake with the warm remote provisioned "
                    + r.provisioned()
                    + " or gave another image");
          }
        }
        System.out.printf(
            Locale.ROOT,
            "%s %s %d: no cache %d ms, warm remote cache %d ms (%s pulled; inputs hashed after %d ms, pulls took %d ms), checking diffIDs too %d ms%n",
            name,
            i < 0 ? "warm-up" : "run",
            i,
            n,
            c,
            fromRemote.fromRemoteCache(),
            phases.hashedMs(),
            phases.pullMs(),
            v);
        if (i >= 0) {
          none.add(n);
          cached.add(c);
          content.add(v);
        }
      }
      System.out.printf(
          Locale.ROOT,
          "RESULT scenario=%s no_cache_median_ms=%d remote_cache_median_ms=%d speedup=%.1f content_check_median_ms=%d content_check_speedup=%.1f runs=%d%n",
          name,
          median(none),
          median(cached),
          median(none) / (double) median(cached),
          median(content),
          median(none) / (double) median(content),
          runs);
      deleteTree(store);
    }
    DockerBench.removeParentImagesQuietly();
  }

  /**
   * The example's Ansible playbook ({@code examples/src/main/ansible}: a role with a user,
   * directories, templates, a handler and a systemd unit) over the Debian minbase root file system
   * with python3 ({@code scripts/docker/debian-rootfs.sh}, cached between runs). Run from the
   * repository root.
   */
  static ImageBuild ansible(Path work, Path rootfs) throws Exception {
    Path playbook = Path.of("examples/src/main/ansible/site.yml").toAbsolutePath();
    if (!Files.isRegularFile(playbook)) {
      throw new IllegalStateException("run from the repository root: " + playbook + " is missing");
    }
    Process p =
        new ProcessBuilder("scripts/docker/debian-rootfs.sh")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    String debian =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
            .strip();
    if (p.waitFor() != 0 || debian.isEmpty()) {
      throw new IllegalStateException("scripts/docker/debian-rootfs.sh failed");
    }
    return ImageBuild.from(Base.rootfs(Path.of(debian)))
        .layer(
            Layer.ansible(playbook)
                .named("webapp role")
                .groups("webservers")
                .extraVars(Map.of("app_name", "bench")));
  }

  /** When the inputs were hashed, and how long the remote pulls took in all, in one bake. */
  static final class Phases implements dev.kiln.event.BakeListener {
    private final long start;
    private final java.util.concurrent.atomic.AtomicLong hashed =
        new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong pulls =
        new java.util.concurrent.atomic.AtomicLong();

    Phases(long start) {
      this.start = start;
    }

    @Override
    public void onEvent(dev.kiln.event.BakeEvent e) {
      if (e instanceof dev.kiln.event.BakeEvent.InputsHashed) {
        hashed.accumulateAndGet(System.nanoTime() - start, Math::max);
      } else if (e instanceof dev.kiln.event.BakeEvent.RemoteCacheHit h) {
        pulls.addAndGet(h.took().toNanos());
      }
    }

    long hashedMs() {
      return hashed.get() / 1_000_000;
    }

    long pullMs() {
      return pulls.get() / 1_000_000;
    }
  }

  private static BakeResult bake(
      Path store, ImageBuild build, String remote, RemoteCache.Verify verify) throws Exception {
    return bake(store, build, remote, verify, e -> {});
  }

  private static BakeResult bake(
      Path store,
      ImageBuild build,
      String remote,
      RemoteCache.Verify verify,
      dev.kiln.event.BakeListener listener)
      throws Exception {
    Kiln.Builder b = Kiln.builder().store(store).listener(listener);
    if (remote != null) {
      b.remoteCache(remote, RemoteCache.Mode.READ_WRITE).remoteCacheVerify(verify);
    }
    try (Kiln kiln = b.build()) {
      return kiln.bake(build);
    }
  }

  private static String du(Path p) throws Exception {
    Process pr = new ProcessBuilder("du", "-sh", p.toString()).start();
    return new String(pr.getInputStream().readAllBytes()).split("\\s")[0];
  }
}
