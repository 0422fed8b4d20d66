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
 * counted.
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
    Path store = work.resolve("kiln-store");
    List<Long> kCold = new ArrayList<>();
    List<Long> kWarm = new ArrayList<>();
    List<Long> dCold = new ArrayList<>();
    List<Long> dWarm = new ArrayList<>();
    List<Long> kSame = new ArrayList<>();
    List<Long> dSame = new ArrayList<>();
    java.util.Set<String> danglingBefore = dangling();
    for (int i = -1; i < runs; i++) {
      // Kiln cold: empty store, nothing of Kiln's in the daemon
      deleteTree(store);
      removeImages(KILN_IMAGE);
      removeParentImages();
      long t0 = System.nanoTime();
      bake(store, build);
      long kc = ms(t0);
      touch(jdk, "kiln", i);
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
      long kwLayers = (assembled[0] - t1) / 1_000_000;
      if (!r.provisioned().equals(List.of("jdk"))) {
        throw new IllegalStateException("warm Kiln bake provisioned " + r.provisioned());
      }
      long t4 = System.nanoTime();
      BakeResult same = bake(store, build);
      long kn = ms(t4);
      if (!same.provisioned().isEmpty() || !same.published().values().iterator().next().reused()) {
        throw new IllegalStateException("unchanged Kiln bake did work: " + same.provisioned());
      }
      // docker build cold: no build cache, no image
      removeImages(DOCKER_IMAGE);
      run(List.of(DOCKER, "builder", "prune", "-af"));
      long t2 = System.nanoTime();
      dockerBuild(ctx, buildkit);
      long dc = ms(t2);
      touch(jdk, "docker", i);
      long t3 = System.nanoTime();
      dockerBuild(ctx, buildkit);
      long dw = ms(t3);
      long t5 = System.nanoTime();
      dockerBuild(ctx, buildkit);
      long dn = ms(t5);
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
            "warm-up: kiln cold %d ms, warm %d ms, unchanged %d ms; docker build cold %d ms, warm %d ms, unchanged %d ms%n",
            kc,
            kw,
            kn,
            dc,
            dw,
            dn);
        continue;
      }
      kSame.add(kn);
      dSame.add(dn);
      kCold.add(kc);
      kWarm.add(kw);
      dCold.add(dc);
      dWarm.add(dw);
      System.out.printf(
          Locale.ROOT,
          "run %d: kiln cold %d ms, warm %d ms (layers %d ms, publishing %d ms), unchanged %d ms; docker build cold %d ms, warm %d ms, unchanged %d ms%n",
          i,
          kc,
          kw,
          kwLayers,
          kw - kwLayers,
          kn,
          dc,
          dw,
          dn);
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
        "RESULT tool=docker-build buildkit=%s cold_median_ms=%d warm_median_ms=%d unchanged_median_ms=%d runs=%d%n",
        buildkit,
        median(dCold),
        median(dWarm),
        median(dSame),
        runs);
    System.out.printf(
        Locale.ROOT,
        "RESULT warm_speedup=%.2f cold_ratio=%.2f%n",
        median(dWarm) / (double) median(kWarm),
        median(kCold) / (double) median(dCold));
    removeImages(KILN_IMAGE, DOCKER_IMAGE, BASE_IMAGE);
    removeParentImages();
  }

  static final int GZIP_LEVEL =
      Integer.parseInt(System.getenv().getOrDefault("KILN_GZIP_LEVEL", "6"));

  private static BakeResult bake(Path store, ImageBuild build) throws Exception {
    return bake(store, build, e -> {});
  }

  private static BakeResult bake(Path store, ImageBuild build, dev.kiln.event.BakeListener listener)
      throws Exception {
    try (Kiln kiln =
        Kiln.builder().store(store).compressionLevel(GZIP_LEVEL).listener(listener).build()) {
      return kiln.bake(build, "docker-daemon:" + KILN_IMAGE);
    }
  }

  private static void dockerBuild(Path ctx, String buildkit) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(DOCKER, "build", "-q", "-t", DOCKER_IMAGE, ctx.toString())
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
    Files.writeString(
        jdk.resolve("release"),
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
