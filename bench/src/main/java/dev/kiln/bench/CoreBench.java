package dev.kiln.bench;

import static dev.kiln.bench.Measure.deleteTree;
import static dev.kiln.bench.Measure.median;

import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.JibContainerBuilder;
import com.google.cloud.tools.jib.api.TarImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The core benchmark: builds the same one-layer image of a directory tree with Kiln and with Jib
 * (jib-core, {@code Jib.fromScratch()} + one {@code FileEntriesLayer} of the tree → {@code
 * TarImage}), in-process after warm-up, the same way for both: cold runs start from empty caches,
 * warm runs rebuild the unchanged tree with the caches of the previous run. Warm-up is one cold
 * build and {@value #WARMS} warm ones (JIT, class loading, page cache); each measured round is one
 * cold build and {@value #WARMS} warm ones, whose median is the round's warm time.
 *
 * <p>Usage: {@code CoreBench kiln|kiln-open|jib TREE WORKDIR [RUNS]}; prints one line per run and a
 * summary line with medians (also of each round's first warm build: with {@code kiln-open} that one
 * walks the tree and starts watching it) and the peak heap. Run each tool in its own JVM
 * (scripts/bench-core.sh does).
 */
public final class CoreBench {
  static final int WARMS = 5;

  public static void main(String[] args) throws Exception {
    String tool = args[0];
    Path tree = Path.of(args[1]).toAbsolutePath();
    Path work = Path.of(args[2]).toAbsolutePath();
    int runs = args.length > 3 ? Integer.parseInt(args[3]) : 5;
    Files.createDirectories(work);
    Runner runner =
        switch (tool) {
          case "kiln" -> new KilnRunner(tree, work, false);
          case "kiln-open" -> new KilnRunner(tree, work, true);
          case "jib" -> new JibRunner(tree, work);
          default ->
              throw new IllegalArgumentException(
                  "unknown tool " + tool + ": kiln, kiln-open or jib");
        };

    // warm-up: JIT, class loading, page cache for the tree
    runner.cold(-1);
    for (int w = 0; w < WARMS; w++) {
      runner.warm(-1);
    }

    List<Long> cold = new ArrayList<>();
    List<Long> warm = new ArrayList<>();
    List<Long> firstWarm = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      long t0 = System.nanoTime();
      runner.cold(i);
      cold.add((System.nanoTime() - t0) / 1_000_000);
      List<Long> round = new ArrayList<>();
      for (int w = 0; w < WARMS; w++) {
        long t1 = System.nanoTime();
        runner.warm(i);
        round.add((System.nanoTime() - t1) / 1_000_000);
      }
      warm.add(median(round));
      firstWarm.add(round.get(0));
      System.out.printf(
          Locale.ROOT,
          "%s run %d: cold %d ms, warm %d ms (warm builds %s)%n",
          tool,
          i,
          cold.get(i),
          warm.get(i),
          round);
    }
    System.out.printf(
        Locale.ROOT,
        "RESULT tool=%s tree=%s cold_median_ms=%d warm_median_ms=%d first_warm_median_ms=%d peak_heap_mb=%d runs=%d%n",
        tool,
        tree,
        median(cold),
        median(warm),
        median(firstWarm),
        peakHeapMb(),
        runs);
  }

  interface Runner {
    /** A build from empty caches. */
    void cold(int run) throws Exception;

    /** A rebuild of the unchanged tree with the caches of the previous cold build. */
    void warm(int run) throws Exception;
  }

  /**
   * Kiln, either with a new {@code Kiln} instance per bake (as a command-line tool runs it) or,
   * with {@code keepOpen}, with one instance per store kept open across its bakes (as a build
   * daemon, an IDE or a service embeds it): its stat index stays loaded and its file-system watches
   * stay in place.
   */
  static final class KilnRunner implements Runner {
    private final Path tree;
    private final Path work;
    private final boolean keepOpen;
    private Path store;
    private Kiln open;

    KilnRunner(Path tree, Path work, boolean keepOpen) {
      this.tree = tree;
      this.work = work;
      this.keepOpen = keepOpen;
    }

    private BakeResult bake() throws Exception {
      ImageBuild b = ImageBuild.from(Base.scratch()).layer(Layer.files("tree").add(tree, "/tree"));
      String target = "oci-archive:" + work.resolve("kiln-image.tar");
      if (keepOpen) {
        if (open == null) {
          open = Kiln.builder().store(store).build();
        }
        return open.bake(b, target);
      }
      try (Kiln kiln = Kiln.builder().store(store).build()) {
        return kiln.bake(b, target);
      }
    }

    @Override
    public void cold(int run) throws Exception {
      if (open != null) {
        open.close();
        open = null;
      }
      if (store != null) {
        deleteTree(store);
      }
      Files.deleteIfExists(work.resolve("kiln-image.tar"));
      store = work.resolve("kiln-store-" + run);
      bake();
    }

    @Override
    public void warm(int run) throws Exception {
      bake();
    }
  }

  static final class JibRunner implements Runner {
    private final Path tree;
    private final Path work;
    private Path cache;

    JibRunner(Path tree, Path work) {
      this.tree = tree;
      this.work = work;
    }

    private void build() throws Exception {
      JibContainerBuilder b =
          Jib.fromScratch()
              .addFileEntriesLayer(
                  FileEntriesLayer.builder()
                      .addEntryRecursive(tree, AbsoluteUnixPath.get("/tree"))
                      .build());
      b.containerize(
          Containerizer.to(TarImage.at(work.resolve("jib-image.tar")).named("bench:latest"))
              .setApplicationLayersCache(cache.resolve("app"))
              .setBaseImageLayersCache(cache.resolve("base")));
    }

    @Override
    public void cold(int run) throws Exception {
      if (cache != null) {
        deleteTree(cache);
      }
      cache = work.resolve("jib-cache-" + run);
      build();
    }

    @Override
    public void warm(int run) throws Exception {
      build();
    }
  }

  static long peakHeapMb() {
    long peak = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
        peak += p.getPeakUsage().getUsed();
      }
    }
    return peak / (1024 * 1024);
  }
}
