package dev.kiln.bench;

import static dev.kiln.bench.Measure.deleteTree;
import static dev.kiln.bench.Measure.median;
import static dev.kiln.bench.Measure.ms;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * The Docker benchmark: the same 3-layer image — a busybox base, a run layer, a files layer of a
 * JDK tree — built by Kiln into the Docker daemon ({@code docker-daemon:}) and by {@code docker
 * build} of the equivalent Dockerfile, side by side on one daemon. Cold: Kiln with an empty store
 * and none of its images in the daemon; docker build after {@code docker builder prune -af} and
 * without its image. Warm: after changing one file of the JDK tree, each with the caches of its
 * previous build. Unchanged: the same build once more, nothing changed. One warm-up round is not
 * counted. <b>Cold, returning early</b>: Kiln's cold bake again through {@code Kiln.bakeEarly},
 * timed until it returns (the image tagged in the daemon) and, apart, until the store has caught up
 * and the Kiln is closed.
 *
 * <p>Two more measures per run. <b>Raw import</b>: the daemon's own cost of taking the layers
 * Kiln's warm bake sent — a docker-archive of the same changed (uncompressed) layer, config and
 * manifest, written beforehand, sent with {@code curl -X POST -T} to {@code /images/load} through
 * the unix socket — alternately before (the previous run's archive) and after Kiln's warm bake.
 * <b>App</b>: the same image with a small app layer on top, one file of it changed, Kiln vs docker
 * build (both warm).
 *
 * <p>Usage: {@code DockerBench WORKDIR [RUNS] [JDK_DIR]}; {@code DOCKER_BUILDKIT} is passed to
 * docker build as set (scripts/bench-docker.sh sets 1); {@code KILN_GZIP_LEVEL} sets Kiln's layer
 * compression level (default 6, Kiln's default). Prints one line per run and {@code RESULT} lines
 * with medians.
 */
public final class DockerBench {
  static final String DOCKER =
      Files.isExecutable(Path.of("/usr/bin/docker")) ? "/usr/bin/docker" : "docker";
  static final String KILN_IMAGE = "kiln-bench/kiln:latest";
  static final String DOCKER_IMAGE = "kiln-bench/docker:latest";
  static final String BASE_IMAGE = "kiln-bench/busybox:base";
  static final String KILN_APP = "kiln-bench/kiln-app:latest";
  static final String DOCKER_APP = "kiln-bench/docker-app:latest";
  static final String RAW_IMAGE = "kiln-bench/raw:latest";
  static final String SOCKET =
      System.getenv()
          .getOrDefault("DOCKER_HOST", "unix:///var/run/docker.sock")
          .replaceFirst("^unix://", "");
  static final String[] RUN = {
    "mkdir -p /opt/app /var/log/app",
    "echo v1 > /opt/app/version",
    "ln -s /opt/jdk/bin/java /opt/app/java"
  };

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]).toAbsolutePath();
    int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    Path jdkSource = Path.of(args.length > 2 ? args[2] : "/usr/lib/jvm/java-17-openjdk-amd64");
    Files.createDirectories(work);
    Path rootfs = busyboxRootfs(work.resolve("busybox-rootfs.tar"));
    Path ctx = work.resolve("context");
    Path jdk = ctx.resolve("jdk");
    if (!Files.isDirectory(jdk)) {
      Files.createDirectories(ctx);
      run(List.of("cp", "-a", jdkSource.toString() + "/.", jdk.toString()));
    }
    Files.writeString(
        ctx.resolve("Dockerfile"),
        "FROM " + BASE_IMAGE + "\nRUN " + String.join(" && ", RUN) + "\nCOPY jdk /opt/jdk\n");
    Path app = ctx.resolve("app");
    Files.createDirectories(app);
    for (int f = 0; f < 20; f++) {
      Files.writeString(app.resolve("part-" + f + ".txt"), ("app part " + f + "\n").repeat(5000));
    }
    Files.writeString(
        ctx.resolve("Dockerfile.app"),
        "FROM "
            + BASE_IMAGE
            + "\nRUN "
            + String.join(" && ", RUN)
            + "\nCOPY jdk /opt/jdk\nCOPY app /opt/app\n");
    run(List.of(DOCKER, "import", rootfs.toString(), BASE_IMAGE));
    String buildkit = System.getenv().getOrDefault("DOCKER_BUILDKIT", "0");
    System.out.printf(
        Locale.ROOT,
        "machine: %d cores; jdk tree %s (%s); DOCKER_BUILDKIT=%s; docker %s%n",
        Runtime.getRuntime().availableProcessors(),
        jdkSource,
        run(List.of("du", "-sh", jdk.toString())).split("\\s")[0],
        buildkit,
        run(List.of(DOCKER, "version", "--format", "{{.Server.Version}}")).strip());

    ImageBuild build =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(Layer.run("setup", RUN))
            .layer(Layer.files("jdk").add(jdk, "/opt/jdk"));
    ImageBuild appBuild = build.layer(Layer.files("app").add(app, "/opt/app"));
    Path store = work.resolve("kiln-store");
    List<Long> kCold = new ArrayList<>();
    List<Long> kEarly = new ArrayList<>();
    List<Long> kEarlyDone = new ArrayList<>();
    List<Long> kWarm = new ArrayList<>();
    List<Long> dCold = new ArrayList<>();
    List<Long> dWarm = new ArrayList<>();
    List<Long> kSame = new ArrayList<>();
    List<Long> dSame = new ArrayList<>();
    List<Long> raw = new ArrayList<>();
    List<Long> kApp = new ArrayList<>();
    List<Long> dApp = new ArrayList<>();
    // CPU seconds (ms) of each build: the tool's own (Kiln: this JVM; docker: its commands) plus
    // the
    // daemon's (dockerd, containerd), which does the import, the RUN steps and BuildKit's work
    List<Long> kColdCpu = new ArrayList<>();
    List<Long> kWarmCpu = new ArrayList<>();
    List<Long> dColdCpu = new ArrayList<>();
    List<Long> dWarmCpu = new ArrayList<>();
    List<Long> rawCpu = new ArrayList<>();
    Path rawArchive = work.resolve("raw-import.tar");
    java.util.Set<String> danglingBefore = dangling();
    for (int i = -1; i < runs; i++) {
      // Kiln cold: empty store, nothing of Kiln's in the daemon (the app image of the round
      // before holds the same layers: without it removed, the daemon would unpack nothing)
      deleteTree(store);
      removeImages(KILN_IMAGE, KILN_APP);
      removeParentImages();
      long c0 = kilnCpu();
      long t0 = System.nanoTime();
      bake(store, build);
      long kc = ms(t0);
      long kcCpu = (kilnCpu() - c0) / 1_000_000;
      // Kiln cold again, returning once the daemon holds the image (Kiln.bakeEarly); the store's
      // catching up after that is timed apart (until close() returns)
      deleteTree(store);
      removeImages(KILN_IMAGE, KILN_APP);
      removeParentImages();
      long[] early = bakeEarly(store, build);
      touch(jdk, "kiln", i);
      long rawBefore = -1;
      long rawBeforeCpu = -1;
      if (i % 2 != 0 && Files.exists(rawArchive)) {
        long rb0 = dockerCpu();
        rawBefore =
            rawImport(rawArchive, null); // the previous run's changed layer, before the bake
        rawBeforeCpu = (dockerCpu() - rb0) / 1_000_000;
      }
      long c1 = kilnCpu();
      long t1 = System.nanoTime();
      long[] assembled = new long[1];
      BakeResult r =
          bake(
              store,
              build,
              e -> {
                if (e instanceof dev.kiln.event.BakeEvent.ImageAssembled) {
                  assembled[0] = System.nanoTime();
                }
              });
      long kw = ms(t1);
      long kwCpu = (kilnCpu() - c1) / 1_000_000;
      long kwLayers = (assembled[0] - t1) / 1_000_000;
      if (!r.provisioned().equals(List.of("jdk"))) {
        throw new IllegalStateException("warm Kiln bake provisioned " + r.provisioned());
      }
      rawArchive(store, r, rawArchive);
      long rc0 = dockerCpu();
      long rw = rawBefore >= 0 ? rawBefore : rawImport(rawArchive, KILN_IMAGE);
      long rwCpu = rawBefore >= 0 ? rawBeforeCpu : (dockerCpu() - rc0) / 1_000_000;
      long t4 = System.nanoTime();
      BakeResult same = bake(store, build);
      long kn = ms(t4);
      if (!same.provisioned().isEmpty() || !same.published().values().iterator().next().reused()) {
        throw new IllegalStateException("unchanged Kiln bake did work: " + same.provisioned());
      }
      // docker build cold: no build cache, no image (nor the app image, which holds its layers)
      removeImages(DOCKER_IMAGE, DOCKER_APP);
      run(List.of(DOCKER, "builder", "prune", "-af"));
      long c2 = dockerCpu();
      long t2 = System.nanoTime();
      dockerBuild(ctx, buildkit);
      long dc = ms(t2);
      long dcCpu = (dockerCpu() - c2) / 1_000_000;
      touch(jdk, "docker", i);
      long c3 = dockerCpu();
      long t3 = System.nanoTime();
      dockerBuild(ctx, buildkit);
      long dw = ms(t3);
      long dwCpu = (dockerCpu() - c3) / 1_000_000;
      long t5 = System.nanoTime();
      dockerBuild(ctx, buildkit);
      long dn = ms(t5);
      // the app shape: a small layer on top, one file of it changed; each tool warm
      bake(store, appBuild, KILN_APP, e -> {});
      dockerBuild(ctx, buildkit, "Dockerfile.app", DOCKER_APP);
      touchFile(app.resolve("part-10.txt"), "kiln", i);
      long t6 = System.nanoTime();
      BakeResult ra = bake(store, appBuild, KILN_APP, e -> {});
      long ka = ms(t6);
      if (!ra.provisioned().equals(List.of("app"))) {
        throw new IllegalStateException("app Kiln bake provisioned " + ra.provisioned());
      }
      touchFile(app.resolve("part-10.txt"), "docker", i);
      long t7 = System.nanoTime();
      dockerBuild(ctx, buildkit, "Dockerfile.app", DOCKER_APP);
      long da = ms(t7);
      // both tools leave the image a tag moved away from dangling: remove those this benchmark made
      // (not timed)
      for (String id : dangling()) {
        if (!danglingBefore.contains(id)) {
          runQuietly(List.of(DOCKER, "rmi", "-f", id));
        }
      }
      if (i < 0) {
        System.out.printf(
            Locale.ROOT,
            "warm-up: kiln cold %d ms, warm %d ms, unchanged %d ms, app %d ms; raw import %d ms; docker build cold %d ms, warm %d ms, unchanged %d ms, app %d ms%n",
            kc,
            kw,
            kn,
            ka,
            rw,
            dc,
            dw,
            dn,
            da);
        continue;
      }
      kSame.add(kn);
      dSame.add(dn);
      kCold.add(kc);
      kEarly.add(early[0]);
      kEarlyDone.add(early[1]);
      kWarm.add(kw);
      dCold.add(dc);
      dWarm.add(dw);
      raw.add(rw);
      kApp.add(ka);
      dApp.add(da);
      kColdCpu.add(kcCpu);
      kWarmCpu.add(kwCpu);
      dColdCpu.add(dcCpu);
      dWarmCpu.add(dwCpu);
      rawCpu.add(rwCpu);
      System.out.printf(
          Locale.ROOT,
          "run %d: kiln cold, returning early %d ms (store done %d ms); docker build cold %d ms%n",
          i,
          early[0],
          early[1],
          dc);
      System.out.printf(
          Locale.ROOT,
          "run %d cpu: kiln cold %d ms, warm %d ms; raw import %d ms; docker build cold %d ms, warm %d ms (each with dockerd's and containerd's)%n",
          i,
          kcCpu,
          kwCpu,
          rwCpu,
          dcCpu,
          dwCpu);
      System.out.printf(
          Locale.ROOT,
          "run %d: kiln cold %d ms, warm %d ms (layers %d ms, publishing %d ms), unchanged %d ms, app %d ms; raw import %d ms (%s the bake); docker build cold %d ms, warm %d ms, unchanged %d ms, app %d ms%n",
          i,
          kc,
          kw,
          kwLayers,
          kw - kwLayers,
          kn,
          ka,
          rw,
          rawBefore >= 0 ? "before" : "after",
          dc,
          dw,
          dn,
          da);
    }
    System.out.printf(
        Locale.ROOT,
        "RESULT tool=kiln gzip_level=%d cold_median_ms=%d warm_median_ms=%d unchanged_median_ms=%d runs=%d%n",
        GZIP_LEVEL,
        median(kCold),
        median(kWarm),
        median(kSame),
        runs);
    System.out.printf(
        Locale.ROOT,
        "RESULT tool=kiln-early cold_median_ms=%d store_done_median_ms=%d cold_ratio=%.2f%n",
        median(kEarly),
        median(kEarlyDone),
        median(kEarly) / (double) median(dCold));
    System.out.printf(
        Locale.ROOT,
        "RESULT tool=docker-build buildkit=%s cold_median_ms=%d warm_median_ms=%d unchanged_median_ms=%d runs=%d%n",
        buildkit,
        median(dCold),
        median(dWarm),
        median(dSame),
        runs);
    System.out.printf(
        Locale.ROOT,
        "RESULT raw_import_median_ms=%d kiln_app_median_ms=%d docker_app_median_ms=%d%n",
        median(raw),
        median(kApp),
        median(dApp));
    int cores = Runtime.getRuntime().availableProcessors();
    System.out.printf(
        Locale.ROOT,
        "RESULT cpu kiln_cold_cpu_median_ms=%d kiln_warm_cpu_median_ms=%d raw_import_cpu_median_ms=%d docker_cold_cpu_median_ms=%d docker_warm_cpu_median_ms=%d cores=%d kiln_cold_floor_ms=%d kiln_warm_floor_ms=%d%n",
        median(kColdCpu),
        median(kWarmCpu),
        median(rawCpu),
        median(dColdCpu),
        median(dWarmCpu),
        cores,
        median(kColdCpu) / cores,
        median(kWarmCpu) / cores);
    System.out.printf(
        Locale.ROOT,
        "RESULT warm_speedup=%.2f cold_ratio=%.2f warm_vs_raw_import=%.2f app_ratio=%.2f%n",
        median(dWarm) / (double) median(kWarm),
        median(kCold) / (double) median(dCold),
        median(kWarm) / (double) median(raw),
        median(kApp) / (double) median(dApp));
    removeImages(KILN_IMAGE, DOCKER_IMAGE, BASE_IMAGE, KILN_APP, DOCKER_APP, RAW_IMAGE);
    removeParentImages();
  }

  /** This JVM's CPU time and the daemon's, in nanoseconds: what a Kiln bake into it costs. */
  private static long kilnCpu() throws IOException {
    return CpuTime.jvm() + RegistryBench.DockerTool.daemonCpu();
  }

  /** The CPU time of this JVM's ended child processes and the daemon's, in nanoseconds. */
  private static long dockerCpu() throws IOException {
    return CpuTime.children() + RegistryBench.DockerTool.daemonCpu();
  }

  static final int GZIP_LEVEL =
      Integer.parseInt(System.getenv().getOrDefault("KILN_GZIP_LEVEL", "6"));

  private static BakeResult bake(Path store, ImageBuild build) throws Exception {
    return bake(store, build, e -> {});
  }

  private static BakeResult bake(Path store, ImageBuild build, dev.kiln.event.BakeListener listener)
      throws Exception {
    return bake(store, build, KILN_IMAGE, listener);
  }

  private static BakeResult bake(
      Path store, ImageBuild build, String image, dev.kiln.event.BakeListener listener)
      throws Exception {
    try (Kiln kiln =
        Kiln.builder().store(store).compressionLevel(GZIP_LEVEL).listener(listener).build()) {
      return kiln.bake(build, "docker-daemon:" + image);
    }
  }

  /**
   * A cold bake that returns once the daemon holds the image ({@code Kiln.bakeEarly}): the time
   * until it returned and until the store had caught up and the Kiln was closed, in ms.
   */
  private static long[] bakeEarly(Path store, ImageBuild build) throws Exception {
    long t0 = System.nanoTime();
    long returned;
    try (Kiln kiln = Kiln.builder().store(store).compressionLevel(GZIP_LEVEL).build()) {
      dev.kiln.EarlyBake e = kiln.bakeEarly(build, "docker-daemon:" + KILN_IMAGE);
      returned = ms(t0);
      if (!e.returnedEarly()) {
        throw new IllegalStateException("the cold bake did not return early");
      }
      e.await();
    }
    return new long[] {returned, ms(t0)};
  }

  /**
   * A docker-archive of what Kiln's warm bake sent the daemon: manifest, config and the layers it
   * provisioned, uncompressed (the lower layers, which the daemon holds, left out as Kiln leaves
   * them out). Not timed.
   */
  private static void rawArchive(Path store, BakeResult r, Path archive) throws IOException {
    Path blobs = store.resolve("blobs/sha256");
    StringBuilder layers = new StringBuilder();
    for (dev.kiln.LayerRecord l : r.layers()) {
      layers.append(layers.length() == 0 ? "" : ",").append('"').append(l.digest().hex());
      layers.append("/layer.tar\"");
    }
    String manifest =
        "[{\"Config\":\""
            + r.configDigest().hex()
            + ".json\",\"RepoTags\":[\""
            + RAW_IMAGE
            + "\"],\"Layers\":["
            + layers
            + "]}]";
    try (OutputStream os =
            new java.io.BufferedOutputStream(Files.newOutputStream(archive), 1 << 20);
        TarArchiveOutputStream t = new TarArchiveOutputStream(os)) {
      t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      entry(t, "manifest.json", manifest.getBytes(StandardCharsets.UTF_8));
      entry(
          t,
          r.configDigest().hex() + ".json",
          Files.readAllBytes(blobs.resolve(r.configDigest().hex())));
      for (dev.kiln.LayerRecord l : r.layers()) {
        if (!r.provisioned().contains(l.name())) {
          continue;
        }
        TarArchiveEntry e = new TarArchiveEntry(l.digest().hex() + "/layer.tar");
        e.setSize(l.uncompressedSize());
        t.putArchiveEntry(e);
        try (java.io.InputStream in =
            new java.util.zip.GZIPInputStream(
                Files.newInputStream(blobs.resolve(l.digest().hex())), 1 << 16)) {
          in.transferTo(t);
        }
        t.closeArchiveEntry();
      }
    }
  }

  private static void entry(TarArchiveOutputStream t, String name, byte[] b) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(b.length);
    t.putArchiveEntry(e);
    t.write(b);
    t.closeArchiveEntry();
  }

  /**
   * The daemon's raw import of the archive: {@code curl -X POST -T} into {@code /images/load}
   * through the unix socket, timed. When {@code same} names the image the archive was made of, it
   * is removed first, so that the daemon lacks its top layer again, and tagged again afterwards.
   * The import's own tag is removed afterwards (not timed).
   */
  private static long rawImport(Path archive, String same) throws Exception {
    removeImages(RAW_IMAGE);
    if (same != null) {
      removeImages(same);
    }
    long t0 = System.nanoTime();
    String out =
        run(
            List.of(
                "curl",
                "-sS",
                "--fail",
                "--unix-socket",
                SOCKET,
                "-X",
                "POST",
                "-H",
                "Content-Type: application/x-tar",
                "-T",
                archive.toString(),
                "http://localhost/images/load?quiet=1"));
    long took = ms(t0);
    if (out.contains("\"error")) {
      throw new IllegalStateException("raw import failed: " + out);
    }
    if (same != null) {
      run(List.of(DOCKER, "tag", RAW_IMAGE, same));
    }
    removeImages(RAW_IMAGE);
    return took;
  }

  private static void dockerBuild(Path ctx, String buildkit) throws Exception {
    dockerBuild(ctx, buildkit, "Dockerfile", DOCKER_IMAGE);
  }

  private static void dockerBuild(Path ctx, String buildkit, String dockerfile, String image)
      throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                DOCKER,
                "build",
                "-q",
                "-f",
                ctx.resolve(dockerfile).toString(),
                "-t",
                image,
                ctx.toString())
            .redirectErrorStream(true);
    pb.environment().put("DOCKER_BUILDKIT", buildkit);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("docker build failed:\n" + out);
    }
  }

  /**
   * Changes one file of the tree (the same file for both tools), as an edit between two builds
   * would.
   */
  private static void touch(Path jdk, String who, int run) throws IOException {
    touchFile(jdk.resolve("release"), who, run);
  }

  private static void touchFile(Path file, String who, int run) throws IOException {
    Files.writeString(
        file,
        "# " + who + " " + run + " " + System.nanoTime() + "\n",
        java.nio.file.StandardOpenOption.APPEND);
  }

  private static java.util.Set<String> dangling() throws Exception {
    return new java.util.TreeSet<>(
        List.of(
            run(List.of(DOCKER, "images", "-q", "--no-trunc", "--filter", "dangling=true"))
                .split("\\s+")));
  }

  private static void removeImages(String... refs) throws Exception {
    for (String r : refs) {
      runQuietly(List.of(DOCKER, "rmi", "-f", r));
    }
  }

  private static void removeParentImages() throws Exception {
    for (String ref :
        run(List.of(
                DOCKER,
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}}",
                "--filter",
                "reference=kiln-parent/*"))
            .split("\n")) {
      if (!ref.isBlank()) {
        runQuietly(List.of(DOCKER, "rmi", "-f", ref.strip()));
      }
    }
  }

  /**
   * Removes the parent images run layers load into the daemon, so the next bake starts as a fresh
   * machine would.
   */
  static void removeParentImagesQuietly() throws Exception {
    removeParentImages();
  }

  private static String run(List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IllegalStateException(cmd + " failed:\n" + out);
    }
    return out;
  }

  private static void runQuietly(List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    p.waitFor();
  }

  /** /bin/busybox and its applet links, as a root file system tarball. */
  static Path busyboxRootfs(Path tar) throws IOException {
    Path busybox = Path.of("/bin/busybox");
    try (OutputStream os = Files.newOutputStream(tar);
        TarArchiveOutputStream t = new TarArchiveOutputStream(os)) {
      for (String d : new String[] {"bin/", "etc/", "tmp/", "root/"}) {
        TarArchiveEntry e = new TarArchiveEntry(d);
        e.setMode(d.equals("tmp/") ? 041777 : 040755);
        t.putArchiveEntry(e);
        t.closeArchiveEntry();
      }
      TarArchiveEntry bb = new TarArchiveEntry("bin/busybox");
      bb.setMode(0100755);
      bb.setSize(Files.size(busybox));
      t.putArchiveEntry(bb);
      Files.copy(busybox, t);
      t.closeArchiveEntry();
      for (String applet : new String[] {"sh", "mkdir", "echo", "ln", "ls", "cat"}) {
        TarArchiveEntry l = new TarArchiveEntry("bin/" + applet, TarArchiveEntry.LF_SYMLINK);
        l.setLinkName("busybox");
        t.putArchiveEntry(l);
        t.closeArchiveEntry();
      }
      for (Map.Entry<String, String> f :
          Map.of("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", "etc/group", "root:x:0:\n")
              .entrySet()) {
        byte[] b = f.getValue().getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry e = new TarArchiveEntry(f.getKey());
        e.setMode(0100644);
        e.setSize(b.length);
        t.putArchiveEntry(e);
        t.write(b);
        t.closeArchiveEntry();
      }
    }
    return tar;
  }
}
