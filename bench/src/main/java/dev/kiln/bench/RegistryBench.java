package dev.kiln.bench;

import static dev.kiln.bench.Measure.deleteTree;
import static dev.kiln.bench.Measure.median;
import static dev.kiln.bench.Measure.ms;

import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.JibContainer;
import com.google.cloud.tools.jib.api.JibContainerBuilder;
import com.google.cloud.tools.jib.api.RegistryImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.PublishedImage;
import dev.kiln.event.BakeEvent;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The registry benchmark: the same image pushed to a local registry by Kiln ({@code docker://}
 * target, in-process), by jib-core ({@code RegistryImage}, in-process) and by {@code docker build}
 * + {@code docker push} (commands), over three trees:
 *
 * <ul>
 *   <li>{@code jdk}: one files layer of a JDK tree at {@code /opt/jdk}; "changed" appends to its
 *       {@code release} file;
 *   <li>{@code small}: one files layer of a tree of many small files ({@code /usr/share/doc} and
 *       {@code /usr/share/man}) at {@code /opt/files}; "changed" appends to the file in the middle
 *       of its sorted listing;
 *   <li>{@code app}: the shape of a Java service: the JDK at {@code /opt/jdk} (never changes), a
 *       dependencies layer of jars at {@code /app/libs} and a small app layer at {@code
 *       /app/classes}; "changed" appends to {@code config/application.properties} of the app layer.
 * </ul>
 *
 * Each tool pushes to a {@code docker-registry} of its own, started by this class on a free
 * loopback port with a fresh storage directory before every cold build, so no tool finds blobs
 * another pushed and a cold build finds an empty registry. Per round and tree each tool runs, one
 * after the other (kiln, jib, docker, then the next round): <b>cold</b> (its caches emptied, a
 * fresh registry), <b>unchanged</b> (the same build again), <b>changed</b> (after one file changed;
 * for the app tree five times in a row, each change and build counted, {@link #changedRepeats}).
 * One warm-up round per tree is not counted. The reported digests are checked round by round
 * (unchanged gives the cold digest, changed another one), and after the last round each tool's
 * image is inspected in its registry with {@code skopeo inspect} and every layer blob is asked for.
 *
 * <p>Every build also reports CPU time, which a busy machine stretches far less than wall time: the
 * tool's (the benchmark JVM's process CPU time for Kiln and Jib, which run in it; for docker, that
 * of the dockerd and containerd processes plus that of the docker commands) and that of the tool's
 * registry process ({@code /proc/PID/stat}). After Kiln's changed bake, {@link Raw} measures what
 * the plainest tools pay for the same bytes: a curl upload of the blob Kiln pushed, gzip and
 * sha256sum of its tar (not counted in any tool's time).
 *
 * <p>Usage: {@code RegistryBench WORKDIR ROUNDS TREES}, TREES a comma list of jdk, small, app whose
 * build contexts {@code WORKDIR/ctx-TREE} scripts/bench-registry.sh prepares. {@code
 * DOCKER_BUILDKIT} is passed to docker build as set (the script sets 1). Prints one line per tool
 * and round and {@code RESULT} lines with medians, minimums, maximums and ratios, CPU medians, the
 * floor Kiln's time cannot go below on this machine's cores ((Kiln's + its registry's CPU) / cores)
 * and the raw references.
 */
public final class RegistryBench {
  static final String DOCKER =
      Files.isExecutable(Path.of("/usr/bin/docker")) ? "/usr/bin/docker" : "docker";
  static final List<String> TOOLS = List.of("kiln", "jib", "docker");
  static final List<String> SCENARIOS = List.of("cold", "unchanged", "changed");
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  /** One layer of a tree: a directory of the build context and where it goes in the image. */
  record Part(String name, String dir, String path) {}

  /** One tree: its layers, lowest first, and the file the "changed" scenario appends to. */
  record Tree(String name, Path ctx, List<Part> parts, Path changes) {}

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]).toAbsolutePath();
    int rounds = Integer.parseInt(args[1]);
    List<String> names = List.of(args[2].split(","));
    String buildkit = System.getenv().getOrDefault("DOCKER_BUILDKIT", "1");
    Registries registries = new Registries(work.resolve("registries"));
    Runtime.getRuntime().addShutdownHook(new Thread(registries::stopAll));
    List<Tree> trees = new ArrayList<>();
    for (String n : names) {
      trees.add(tree(n, work.resolve("ctx-" + n)));
    }
    System.out.printf(
        Locale.ROOT,
        "machine: %d cores, load %s; Java %s; dockerd %s; %s; %s%n",
        Runtime.getRuntime().availableProcessors(),
        Files.readString(Path.of("/proc/loadavg")).strip(),
        System.getProperty("java.version"),
        run(List.of(DOCKER, "version", "--format", "{{.Server.Version}}")).strip(),
        run(List.of("skopeo", "--version")).strip(),
        run(List.of("docker-registry", "--version")).strip());
    System.out.println(
        "cached between the scenarios of a round, emptied before each cold build:\n"
            + "  kiln:   its store (layers, stat index, memos), a new Kiln per bake; the registry's blobs\n"
            + "  jib:    its application and base layer cache directories; the registry's blobs\n"
            + "  docker: the build cache of this benchmark's builds (pruned record by record, other\n"
            + "          builds' cache is left alone), its images in the daemon; the registry's blobs\n"
            + "  every tool: a new docker-registry with an empty storage directory, on a new port");
    DockerTool docker = new DockerTool(work, buildkit);
    Raw raw = new Raw(work.resolve("raw"), registries);
    Map<String, Map<String, Map<String, List<Sample>>>> results = new LinkedHashMap<>();
    try {
      for (Tree tree : trees) {
        System.out.printf(
            Locale.ROOT,
            "tree %s: %s%n",
            tree.name(),
            String.join(", ", tree.parts().stream().map(p -> describe(tree, p)).toList()));
        Map<String, Tool> tools = new LinkedHashMap<>();
        tools.put("kiln", new KilnTool(work.resolve("kiln-" + tree.name()), tree));
        tools.put("jib", new JibTool(work.resolve("jib-" + tree.name()), tree));
        tools.put("docker", docker.forTree(tree));
        Map<String, Map<String, List<Sample>>> byTool = new LinkedHashMap<>();
        for (String t : TOOLS) {
          Map<String, List<Sample>> byScenario = new LinkedHashMap<>();
          SCENARIOS.forEach(s -> byScenario.put(s, new ArrayList<>()));
          byTool.put(t, byScenario);
        }
        results.put(tree.name(), byTool);
        Map<String, String> lastDigest = new LinkedHashMap<>();
        int repeats = changedRepeats(tree);
        for (int round = -1; round < rounds; round++) {
          for (String t : TOOLS) {
            Tool tool = tools.get(t);
            String ref = registries.fresh(t) + "/bench-" + tree.name() + ":latest";
            tool.reset(ref);
            Run cold = timed(tool, Scenario.COLD, registries, t);
            Run same = timed(tool, Scenario.UNCHANGED, registries, t);
            // a small change is a short build, so it is timed several times in a row: one build of
            // well under 0.1 s says little on a noisy machine
            List<Run> changes = new ArrayList<>();
            Run changed = same;
            for (int i = 0; i < repeats; i++) {
              String before = changed.digest();
              change(tree, t, round);
              changed = timed(tool, Scenario.CHANGED, registries, t);
              if (changed.digest().equals(before)) {
                throw new IllegalStateException(
                    t + " gave " + changed.digest() + " again after a change (must differ)");
              }
              changes.add(changed);
            }
            if (!same.digest().equals(cold.digest())) {
              throw new IllegalStateException(
                  t
                      + " gave "
                      + cold.digest()
                      + " cold, "
                      + same.digest()
                      + " unchanged (must be the same)");
            }
            lastDigest.put(t, ref + "@" + changed.digest());
            System.out.printf(
                Locale.ROOT,
                "%s %s %s %d: cold %s, unchanged %s, changed %s%n",
                tree.name(),
                t,
                round < 0 ? "warm-up" : "round",
                round,
                cold,
                same,
                changes.size() == 1
                    ? changed
                    : changes.stream().map(Run::toString).collect(Collectors.joining("; ")));
            if (round >= 0) {
              Map<String, List<Sample>> r = byTool.get(t);
              r.get("cold").add(cold.sample());
              r.get("unchanged").add(same.sample());
              changes.forEach(c -> r.get("changed").add(c.sample()));
            }
            if (tool instanceof KilnTool kiln) {
              raw.measure(tree, kiln.provisionedBlob(), round);
            }
          }
        }
        for (String t : TOOLS) {
          String[] refAndDigest = lastDigest.get(t).split("@");
          System.out.println(verify(t, refAndDigest[0], refAndDigest[1], tree.parts().size()));
        }
        docker.cleanUp();
        for (String t : TOOLS) {
          tools.get(t).close();
        }
      }
    } finally {
      docker.cleanUp();
      registries.stopAll();
    }
    report(results, rounds);
    raw.report();
  }

  /**
   * One build's cost: wall time, the CPU time of the tool ({@link Tool#cpu}) and of its registry
   * process, in milliseconds.
   */
  record Sample(long wallMs, long cpuMs, long registryCpuMs) {}

  /** A build's reported digest, its cost and what the tool said about it. */
  record Run(String digest, Sample sample, String note) {
    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "%d ms [cpu %.2f s, registry cpu %.2f s]%s",
          sample.wallMs(),
          sample.cpuMs() / 1000.0,
          sample.registryCpuMs() / 1000.0,
          note);
    }
  }

  /** Runs one build, measuring its wall time and the CPU time the tool and its registry used. */
  static Run timed(Tool tool, Scenario s, Registries registries, String name) throws Exception {
    tool.prepare();
    long cpu0 = tool.cpu();
    long registry0 = registries.cpu(name);
    long t0 = System.nanoTime();
    String digest = tool.build(s);
    long wall = ms(t0);
    long cpu = tool.cpu() - cpu0;
    long registry = registries.cpu(name) - registry0;
    tool.settle();
    return new Run(digest, new Sample(wall, cpu / 1_000_000, registry / 1_000_000), tool.note());
  }

  enum Scenario {
    COLD,
    UNCHANGED,
    CHANGED
  }

  interface Tool extends AutoCloseable {
    /** Empties every cache of the tool (untimed); it pushes to {@code ref} from now on. */
    void reset(String ref) throws Exception;

    /** Untimed bookkeeping before a build. */
    default void prepare() throws Exception {}

    /** Builds and pushes the image; returns the manifest digest the tool reports. */
    String build(Scenario s) throws Exception;

    /** Untimed bookkeeping after a build. */
    default void settle() throws Exception {}

    /** What the last build did, for the per-round line ("" when nothing to say). */
    default String note() {
      return "";
    }

    /**
     * The CPU time, in nanoseconds, the tool has used so far, counted as a build's difference: the
     * benchmark JVM's for a tool that runs in it, the daemon's and its commands' for docker.
     */
    long cpu() throws IOException;

    @Override
    default void close() throws Exception {}
  }

  /** The trees; their contexts are prepared by scripts/bench-registry.sh. */
  static Tree tree(String name, Path ctx) throws IOException {
    if (!Files.isDirectory(ctx)) {
      throw new IllegalArgumentException(
          "no build context " + ctx + " (scripts/bench-registry.sh)");
    }
    Tree t =
        switch (name) {
          case "jdk" ->
              new Tree(
                  name,
                  ctx,
                  List.of(new Part("jdk", "jdk", "/opt/jdk")),
                  ctx.resolve("jdk/release"));
          case "small" ->
              new Tree(
                  name,
                  ctx,
                  List.of(new Part("files", "files", "/opt/files")),
                  middleFile(ctx.resolve("files")));
          case "app" ->
              new Tree(
                  name,
                  ctx,
                  List.of(
                      new Part("jdk", "jdk", "/opt/jdk"),
                      new Part("libs", "libs", "/app/libs"),
                      new Part("app", "app", "/app/classes")),
                  ctx.resolve("app/config/application.properties"));
          default ->
              throw new IllegalArgumentException("unknown tree " + name + ": jdk, small or app");
        };
    StringBuilder dockerfile = new StringBuilder("FROM scratch\n");
    for (Part p : t.parts()) {
      dockerfile.append("COPY ").append(p.dir()).append(' ').append(p.path()).append('\n');
    }
    Files.writeString(ctx.resolve("Dockerfile"), dockerfile);
    if (!Files.isRegularFile(t.changes())) {
      throw new IllegalArgumentException("tree " + name + " lacks " + t.changes());
    }
    return t;
  }

  /** The regular file in the middle of the tree's sorted listing: a change away from both ends. */
  static Path middleFile(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      List<Path> files = s.filter(Files::isRegularFile).sorted().toList();
      return files.get(files.size() / 2);
    }
  }

  /**
   * How many builds a round times for the "changed" scenario: {@value #APP_CHANGES} for the app
   * tree, whose change is one small file ({@code KILN_BENCH_APP_CHANGES} sets it), one for the
   * trees whose change rewrites a large layer.
   */
  static int changedRepeats(Tree tree) {
    return tree.name().equals("app")
        ? Math.max(
            1,
            Integer.parseInt(
                System.getenv()
                    .getOrDefault("KILN_BENCH_APP_CHANGES", Integer.toString(APP_CHANGES))))
        : 1;
  }

  static final int APP_CHANGES = 5;

  /** Appends one line to the tree's changing file, as an edit between two builds would. */
  static void change(Tree tree, String who, int round) throws IOException {
    Files.writeString(
        tree.changes(),
        "# " + who + " " + round + " " + System.nanoTime() + "\n",
        StandardOpenOption.APPEND);
  }

  static String describe(Tree tree, Part p) {
    try {
      Path dir = tree.ctx().resolve(p.dir());
      long[] filesAndBytes = new long[2];
      try (Stream<Path> s = Files.walk(dir)) {
        s.filter(Files::isRegularFile)
            .forEach(
                f -> {
                  filesAndBytes[0]++;
                  filesAndBytes[1] += f.toFile().length();
                });
      }
      return String.format(
          Locale.ROOT,
          "layer %s at %s (%d files, %.1f MB)",
          p.name(),
          p.path(),
          filesAndBytes[0],
          filesAndBytes[1] / 1e6);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Kiln: {@code docker://} target, a new {@code Kiln} per bake (as a command-line run). */
  static final class KilnTool implements Tool {
    private final Path work;
    private final Tree tree;
    private Path store;
    private String ref;
    private String note = "";
    private BakeResult last;

    KilnTool(Path work, Tree tree) {
      this.work = work;
      this.tree = tree;
    }

    @Override
    public void reset(String ref) throws IOException {
      deleteTree(work);
      Files.createDirectories(work);
      this.store = work.resolve("store");
      this.ref = ref;
    }

    @Override
    public String build(Scenario s) throws Exception {
      ImageBuild b = ImageBuild.from(Base.scratch());
      for (Part p : tree.parts()) {
        b = b.layer(dev.kiln.Layer.files(p.name()).add(tree.ctx().resolve(p.dir()), p.path()));
      }
      long t0 = System.nanoTime();
      long[] assembled = new long[1];
      BakeResult r;
      try (Kiln kiln =
          Kiln.builder()
              .store(store)
              .listener(
                  e -> {
                    if (e instanceof BakeEvent.ImageAssembled) {
                      assembled[0] = System.nanoTime();
                    }
                  })
              .build()) {
        r = kiln.bake(b, "docker://" + ref);
      }
      long total = ms(t0);
      last = r;
      PublishedImage pub = r.published().values().iterator().next();
      List<String> expected =
          switch (s) {
            case COLD -> tree.parts().stream().map(Part::name).toList();
            case UNCHANGED -> List.of();
            case CHANGED -> List.of(tree.parts().get(tree.parts().size() - 1).name());
          };
      if (!r.provisioned().equals(expected) || (s == Scenario.UNCHANGED) != pub.reused()) {
        throw new IllegalStateException(
            "kiln " + s + " provisioned " + r.provisioned() + ", reused " + pub.reused());
      }
      long layers = (assembled[0] - t0) / 1_000_000;
      note =
          s == Scenario.UNCHANGED
              ? " (target reused)"
              : String.format(
                  Locale.ROOT,
                  " (layers %d ms, push %d ms: %s of %d blobs sent, %.1f MiB)",
                  layers,
                  total - layers,
                  pub.details().get("blobsUploaded"),
                  r.layers().size() + 1,
                  Long.parseLong(pub.details().get("bytesUploaded")) / 1048576.0);
      return pub.digest().toString();
    }

    @Override
    public String note() {
      return note;
    }

    @Override
    public long cpu() {
      return CpuTime.jvm();
    }

    /**
     * The blob in the store of the one layer the last bake provisioned (the changed bake's: the
     * blob it pushed, {@code STORE/blobs/sha256/HEX}).
     */
    LayerBlob provisionedBlob() {
      if (last.provisioned().size() != 1) {
        throw new IllegalStateException(
            "kiln provisioned " + last.provisioned() + ", not one layer");
      }
      dev.kiln.LayerRecord l =
          last.layers().stream()
              .filter(x -> x.name().equals(last.provisioned().get(0)))
              .findFirst()
              .orElseThrow();
      Path file = store.resolve("blobs/sha256").resolve(l.digest().hex());
      if (!Files.isRegularFile(file)) {
        throw new IllegalStateException("no blob " + file + " in Kiln's store");
      }
      return new LayerBlob(file, l.digest().toString(), l.uncompressedSize());
    }

    @Override
    public void close() throws IOException {
      deleteTree(work);
    }
  }

  /** A layer blob (gzip) in Kiln's store, its digest and the size of its tar. */
  record LayerBlob(Path file, String digest, long tarSize) {}

  /**
   * jib-core: {@code Jib.fromScratch()} + one {@code FileEntriesLayer} per layer, each file with
   * its own POSIX permissions (as Kiln and docker keep them) → {@code RegistryImage}, insecure
   * registries allowed (plain HTTP to loopback, as Kiln and docker use it).
   */
  static final class JibTool implements Tool {
    private final Path work;
    private final Tree tree;
    private String ref;

    JibTool(Path work, Tree tree) {
      this.work = work;
      this.tree = tree;
    }

    @Override
    public void reset(String ref) throws IOException {
      deleteTree(work);
      Files.createDirectories(work);
      this.ref = ref;
    }

    @Override
    public String build(Scenario s) throws Exception {
      JibContainerBuilder b = Jib.fromScratch();
      for (Part p : tree.parts()) {
        b.addFileEntriesLayer(
            FileEntriesLayer.builder()
                .setName(p.name())
                .addEntryRecursive(
                    tree.ctx().resolve(p.dir()),
                    AbsoluteUnixPath.get(p.path()),
                    (src, dst) -> {
                      try {
                        return FilePermissions.fromPosixFilePermissions(
                            Files.getPosixFilePermissions(src));
                      } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                      }
                    })
                .build());
      }
      JibContainer c =
          b.containerize(
              Containerizer.to(RegistryImage.named(ref))
                  .setAllowInsecureRegistries(true)
                  .setApplicationLayersCache(work.resolve("app-cache"))
                  .setBaseImageLayersCache(work.resolve("base-cache")));
      return c.getDigest().toString();
    }

    @Override
    public long cpu() {
      return CpuTime.jvm();
    }

    @Override
    public void close() throws IOException {
      deleteTree(work);
    }
  }

  /**
   * {@code docker build -t REF CONTEXT} then {@code docker push REF}. Cold removes the images it
   * built and prunes the build-cache records its builds created, one by one, leaving other builds'
   * cache alone, and checks that none of them is left.
   */
  static final class DockerTool {
    static final Set<String> DAEMONS = Set.of("dockerd", "containerd", "buildkitd");
    private final String buildkit;
    private final Set<String> cacheRecords = new LinkedHashSet<>();
    private final Set<String> images = new LinkedHashSet<>();
    private final Set<String> tags = new LinkedHashSet<>();
    private String builder;

    DockerTool(Path work, String buildkit) {
      this.buildkit = buildkit;
    }

    Tool forTree(Tree tree) {
      return new Tool() {
        private String ref;
        private String note = "";

        @Override
        public void reset(String ref) throws Exception {
          cleanUp();
          this.ref = ref;
        }

        private Set<String> before;

        @Override
        public void prepare() throws Exception {
          before = buildCache();
        }

        @Override
        public String build(Scenario s) throws Exception {
          long t0 = System.nanoTime();
          ProcessBuilder pb =
              new ProcessBuilder(DOCKER, "build", "-q", "-t", ref, tree.ctx().toString())
                  .redirectErrorStream(true);
          pb.environment().put("DOCKER_BUILDKIT", buildkit);
          String id = run(pb).strip();
          long built = ms(t0);
          String push = run(new ProcessBuilder(DOCKER, "push", ref).redirectErrorStream(true));
          long total = ms(t0);
          images.add(id.substring(id.lastIndexOf('\n') + 1));
          tags.add(ref);
          Matcher m = Pattern.compile("digest: (sha256:[0-9a-f]{64})").matcher(push);
          if (!m.find()) {
            throw new IllegalStateException("no digest in the output of docker push:\n" + push);
          }
          note = String.format(Locale.ROOT, " (build %d ms, push %d ms)", built, total - built);
          return m.group(1);
        }

        @Override
        public void settle() throws Exception {
          Set<String> after = buildCache();
          after.removeAll(before);
          cacheRecords.addAll(after);
          if (builder == null) {
            builder =
                after.isEmpty()
                    ? "the legacy builder (DOCKER_BUILDKIT="
                        + buildkit
                        + ": no build-cache records)"
                    : "BuildKit (DOCKER_BUILDKIT=" + buildkit + ")";
            System.out.println("docker build uses " + builder);
          }
        }

        @Override
        public String note() {
          return note;
        }

        @Override
        public long cpu() throws IOException {
          return daemonCpu() + CpuTime.children();
        }
      };
    }

    /**
     * The CPU time so far of the daemon's processes: dockerd with its built-in BuildKit, and
     * containerd (dockerd's own or a system one), and a separate buildkitd should there be one. The
     * docker commands' own CPU is that of the benchmark's ended child processes ({@link
     * CpuTime#children}).
     */
    static long daemonCpu() throws IOException {
      Map<Long, Long> cpu = CpuTime.byName(DAEMONS);
      if (cpu.isEmpty()) {
        throw new IllegalStateException("no dockerd process found in /proc");
      }
      return cpu.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Removes this benchmark's images and tags and prunes its build-cache records (untimed). */
    void cleanUp() throws Exception {
      for (String t : tags) {
        runQuietly(List.of(DOCKER, "rmi", "-f", t));
      }
      for (String i : images) {
        runQuietly(List.of(DOCKER, "rmi", "-f", i));
      }
      tags.clear();
      images.clear();
      // a record with children goes only once they are gone: a few passes
      for (int pass = 0; pass < 5 && !cacheRecords.isEmpty(); pass++) {
        for (String id : cacheRecords) {
          runQuietly(List.of(DOCKER, "builder", "prune", "-f", "--filter", "id=" + id));
        }
        cacheRecords.retainAll(buildCache());
      }
      if (!cacheRecords.isEmpty()) {
        throw new IllegalStateException("build-cache records left after pruning: " + cacheRecords);
      }
    }

    private static Set<String> buildCache() throws Exception {
      return new TreeSet<>(
              List.of(
                  run(List.of(
                          DOCKER,
                          "system",
                          "df",
                          "-v",
                          "--format",
                          "{{range .BuildCache}}{{.ID}} {{end}}"))
                      .strip()
                      .split("\\s+")))
          .stream()
              .filter(id -> !id.isEmpty())
              .collect(java.util.stream.Collectors.toCollection(TreeSet::new));
    }
  }

  /**
   * A docker-registry per tool, on loopback. {@link #fresh} stops the tool's registry, deletes its
   * storage and starts a new one on a new free port, so the next push finds an empty registry and
   * nothing a tool remembers of an earlier registry (blobs pushed to it) applies.
   */
  static final class Registries {
    private final Path dir;
    private final Map<String, Process> running = new LinkedHashMap<>();

    Registries(Path dir) {
      this.dir = dir;
    }

    /** A new, empty registry for the tool; returns its {@code HOST:PORT}. */
    synchronized String fresh(String tool) throws Exception {
      stop(tool);
      Path root = dir.resolve(tool);
      deleteTree(root);
      Files.createDirectories(root.resolve("storage"));
      int port;
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        port = s.getLocalPort();
      }
      String addr = "127.0.0.1:" + port;
      Path config = root.resolve("config.yml");
      Files.writeString(
          config,
          "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n"
              + "  filesystem:\n    rootdirectory: "
              + root.resolve("storage")
              + "\nhttp:\n  addr: "
              + addr
              + "\n");
      Process p =
          new ProcessBuilder("docker-registry", "serve", config.toString())
              .redirectErrorStream(true)
              .redirectOutput(root.resolve("registry.log").toFile())
              .start();
      running.put(tool, p);
      Files.writeString(
          dir.resolve("pids"),
          p.pid() + "\n",
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      for (int i = 0; i < 200; i++) {
        try {
          HttpResponse<Void> r =
              HTTP.send(
                  HttpRequest.newBuilder(URI.create("http://" + addr + "/v2/")).build(),
                  HttpResponse.BodyHandlers.discarding());
          if (r.statusCode() == 200) {
            return addr;
          }
        } catch (IOException e) {
          // not listening yet
        }
        if (!p.isAlive()) {
          break;
        }
        Thread.sleep(50);
      }
      throw new IllegalStateException(
          "docker-registry did not start on "
              + addr
              + ": "
              + Files.readString(root.resolve("registry.log")));
    }

    /** The CPU time, in nanoseconds, the tool's running registry process has used so far. */
    synchronized long cpu(String tool) throws IOException {
      Process p = running.get(tool);
      if (p == null || !p.isAlive()) {
        throw new IllegalStateException("no running registry for " + tool);
      }
      return CpuTime.process(p.pid());
    }

    private void stop(String tool) throws InterruptedException {
      Process p = running.remove(tool);
      if (p != null) {
        p.destroy();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor();
        }
      }
    }

    synchronized void stopAll() {
      for (String t : new ArrayList<>(running.keySet())) {
        try {
          stop(t);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /**
   * Checks that the registry holds the tool's image: {@code skopeo inspect} names the digest the
   * tool reported and the expected number of layers, and every layer blob is there (HEAD).
   */
  static String verify(String tool, String ref, String digest, int layerCount) throws Exception {
    String json = run(List.of("skopeo", "inspect", "--tls-verify=false", "docker://" + ref));
    Matcher d = Pattern.compile("\"Digest\":\\s*\"(sha256:[0-9a-f]{64})\"").matcher(json);
    if (!d.find() || !d.group(1).equals(digest)) {
      throw new IllegalStateException(
          tool + ": skopeo inspect of " + ref + " does not name " + digest + ":\n" + json);
    }
    Matcher layersField = Pattern.compile("\"Layers\":\\s*\\[([^\\]]*)\\]").matcher(json);
    if (!layersField.find()) {
      throw new IllegalStateException(
          tool + ": skopeo inspect of " + ref + " lists no layers:\n" + json);
    }
    Matcher l = Pattern.compile("sha256:[0-9a-f]{64}").matcher(layersField.group(1));
    List<String> layers = new ArrayList<>();
    while (l.find()) {
      layers.add(l.group());
    }
    if (layers.size() != layerCount) {
      throw new IllegalStateException(
          tool + ": " + ref + " has " + layers.size() + " layers, not " + layerCount);
    }
    String host = ref.substring(0, ref.indexOf('/'));
    String repo = ref.substring(ref.indexOf('/') + 1, ref.lastIndexOf(':'));
    long bytes = 0;
    for (String layer : layers) {
      HttpResponse<Void> r =
          HTTP.send(
              HttpRequest.newBuilder(
                      URI.create("http://" + host + "/v2/" + repo + "/blobs/" + layer))
                  .method("HEAD", HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.discarding());
      if (r.statusCode() != 200) {
        throw new IllegalStateException(
            tool + ": layer " + layer + " of " + ref + ": HTTP " + r.statusCode());
      }
      bytes += r.headers().firstValueAsLong("Content-Length").orElse(0);
    }
    return String.format(
        Locale.ROOT,
        "verified %s: skopeo inspect docker://%s gives %s, %d layer blobs present (%.1f MiB)",
        tool,
        ref,
        digest,
        layers.size(),
        bytes / 1048576.0);
  }

  /**
   * Reference measures taken after Kiln's "changed" bake, outside every tool's time: what the
   * plainest client pays to push the layer blob Kiln pushed, and what the plain tools pay to
   * compress and hash its tar on this machine.
   *
   * <ul>
   *   <li><b>upload</b>: the blob from Kiln's store sent to a new, empty {@code docker-registry}
   *       (started like the tools' ones) by {@code curl}: {@code POST /v2/NAME/blobs/uploads/},
   *       then {@code curl -T BLOB -X PUT LOCATION&digest=sha256:…} (monolithic), both in one timed
   *       shell command; its registry's CPU and the commands' CPU; then checked with a {@code HEAD}
   *       of the blob;
   *   <li><b>gzip</b>: {@code gzip -6 -c} of the layer's tar to /dev/null (one thread), and {@code
   *       pigz -6 -p 2} when installed; the tar is the first changed blob inflated with {@code
   *       gunzip}, once per tree, not timed;
   *   <li><b>gzip on every core</b>: the tar cut into as many equal parts as the machine has cores
   *       (once per tree, not timed), and one {@code gzip -6 -c} per part, all started at once and
   *       timed until the last ends: the level-6 deflate of the layer with every core busy and
   *       nothing else to do, which no tool writing these bytes at this level can beat on this
   *       machine;
   *   <li><b>sha256sum</b> of the same tar.
   * </ul>
   */
  static final class Raw {
    private static final String UPLOAD =
        "set -euo pipefail\n"
            + "loc=$(curl -sS --fail -X POST -D - -o /dev/null \"http://$1/v2/$2/blobs/uploads/\""
            + " | tr -d '\\r' | sed -n 's/^[Ll]ocation: *//p')\n"
            + "[ -n \"$loc\" ] || { echo 'no Location in the reply to POST' >&2; exit 1; }\n"
            + "case \"$loc\" in /*) loc=\"http://$1$loc\" ;; esac\n"
            + "case \"$loc\" in *\\?*) sep='&' ;; *) sep='?' ;; esac\n"
            + "curl -sS --fail -o /dev/null -T \"$3\" -X PUT \"$loc${sep}digest=$4\"\n";

    private final Path dir;
    private final Registries registries;
    private final boolean pigz;
    private final Map<String, Map<String, List<Long>>> results = new LinkedHashMap<>();
    private final Map<String, String> sizes = new LinkedHashMap<>();

    Raw(Path dir, Registries registries) throws Exception {
      this.dir = dir;
      this.registries = registries;
      this.pigz =
          new ProcessBuilder("sh", "-c", "command -v pigz")
                  .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                  .start()
                  .waitFor()
              == 0;
    }

    void measure(Tree tree, LayerBlob blob, int round) throws Exception {
      Files.createDirectories(dir);
      Path tar = dir.resolve("layer-" + tree.name() + ".tar");
      if (!Files.exists(tar)) {
        Process p =
            new ProcessBuilder("gunzip", "-c", blob.file().toString())
                .redirectOutput(tar.toFile())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        if (p.waitFor() != 0 || Files.size(tar) != blob.tarSize()) {
          throw new IllegalStateException(
              "gunzip of "
                  + blob.file()
                  + " gave "
                  + Files.size(tar)
                  + " bytes, not "
                  + blob.tarSize());
        }
      }
      long blobBytes = Files.size(blob.file());
      long tarBytes = Files.size(tar);
      sizes.put(
          tree.name(),
          String.format(
              Locale.ROOT, "blob_mib=%.1f tar_mb=%.1f", blobBytes / 1048576.0, tarBytes / 1e6));

      String addr = registries.fresh("raw");
      String repo = "raw-" + tree.name();
      long registry0 = registries.cpu("raw");
      long[] upload =
          command(
              List.of(
                  "bash",
                  "-c",
                  UPLOAD,
                  "upload",
                  addr,
                  repo,
                  blob.file().toString(),
                  blob.digest()));
      long registryCpu = (registries.cpu("raw") - registry0) / 1_000_000;
      HttpResponse<Void> head =
          HTTP.send(
              HttpRequest.newBuilder(
                      URI.create("http://" + addr + "/v2/" + repo + "/blobs/" + blob.digest()))
                  .method("HEAD", HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.discarding());
      if (head.statusCode() != 200
          || head.headers().firstValueAsLong("Content-Length").orElse(-1) != blobBytes) {
        throw new IllegalStateException(
            "raw upload: the registry has no blob "
                + blob.digest()
                + " of "
                + blobBytes
                + " bytes: HTTP "
                + head.statusCode()
                + " "
                + head.headers().map());
      }
      long[] gzip = command(List.of("gzip", "-6", "-c", tar.toString()));
      long[] everyCore = gzipParts(parts(tar));
      long[] parallel =
          pigz ? command(List.of("pigz", "-6", "-p", "2", "-c", tar.toString())) : null;
      long[] sha = command(List.of("sha256sum", tar.toString()));
      System.out.printf(
          Locale.ROOT,
          "%s raw %s %d: curl upload of Kiln's changed layer blob (%.1f MiB) to an empty"
              + " docker-registry %d ms [registry cpu %.2f s, curl cpu %.2f s]; gzip -6 of its tar"
              + " (%.1f MB) %d ms [cpu %.2f s]; gzip -6 of its %d parts at once %d ms [cpu %.2f"
              + " s]; %s; sha256sum of its tar %d ms [cpu %.2f s]%n",
          tree.name(),
          round < 0 ? "warm-up" : "round",
          round,
          blobBytes / 1048576.0,
          upload[0],
          registryCpu / 1000.0,
          upload[1] / 1000.0,
          tarBytes / 1e6,
          gzip[0],
          gzip[1] / 1000.0,
          CORES,
          everyCore[0],
          everyCore[1] / 1000.0,
          parallel == null
              ? "pigz not installed"
              : String.format(
                  Locale.ROOT,
                  "pigz -6 -p 2 %d ms [cpu %.2f s]",
                  parallel[0],
                  parallel[1] / 1000.0),
          sha[0],
          sha[1] / 1000.0);
      if (round < 0) {
        return;
      }
      Map<String, List<Long>> r = results.computeIfAbsent(tree.name(), k -> new LinkedHashMap<>());
      r.computeIfAbsent("upload_ms", k -> new ArrayList<>()).add(upload[0]);
      r.computeIfAbsent("upload_registry_cpu_ms", k -> new ArrayList<>()).add(registryCpu);
      r.computeIfAbsent("upload_curl_cpu_ms", k -> new ArrayList<>()).add(upload[1]);
      r.computeIfAbsent("gzip6_ms", k -> new ArrayList<>()).add(gzip[0]);
      r.computeIfAbsent("gzip6_cpu_ms", k -> new ArrayList<>()).add(gzip[1]);
      r.computeIfAbsent("gzip6_every_core_ms", k -> new ArrayList<>()).add(everyCore[0]);
      r.computeIfAbsent("gzip6_every_core_cpu_ms", k -> new ArrayList<>()).add(everyCore[1]);
      if (parallel != null) {
        r.computeIfAbsent("pigz6_p2_ms", k -> new ArrayList<>()).add(parallel[0]);
        r.computeIfAbsent("pigz6_p2_cpu_ms", k -> new ArrayList<>()).add(parallel[1]);
      }
      r.computeIfAbsent("sha256sum_ms", k -> new ArrayList<>()).add(sha[0]);
      r.computeIfAbsent("sha256sum_cpu_ms", k -> new ArrayList<>()).add(sha[1]);
    }

    void report() {
      for (Map.Entry<String, Map<String, List<Long>>> tree : results.entrySet()) {
        StringBuilder line = new StringBuilder("RESULT tree=" + tree.getKey() + " raw");
        for (Map.Entry<String, List<Long>> m : tree.getValue().entrySet()) {
          String name = m.getKey().replaceFirst("_ms$", "_median_ms");
          line.append(' ').append(name).append('=').append(median(m.getValue()));
        }
        line.append(' ').append(sizes.get(tree.getKey()));
        System.out.println(line.append(" rounds=").append(tree.getValue().get("upload_ms").size()));
      }
      if (!pigz) {
        System.out.println("RESULT pigz not installed: no parallel gzip reference");
      }
    }

    private static final int CORES = Runtime.getRuntime().availableProcessors();

    /** The tar cut into {@link #CORES} parts of (nearly) equal size, written once per tree. */
    private static List<Path> parts(Path tar) throws Exception {
      long size = Files.size(tar);
      List<Path> parts = new ArrayList<>();
      try (FileChannel in = FileChannel.open(tar)) {
        for (int i = 0; i < CORES; i++) {
          Path part = tar.resolveSibling(tar.getFileName() + ".part" + i);
          long from = size * i / CORES;
          long to = size * (i + 1) / CORES;
          if (!Files.exists(part) || Files.size(part) != to - from) {
            try (FileChannel out =
                FileChannel.open(
                    part,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
              for (long at = from; at < to; ) {
                at += in.transferTo(at, to - at, out);
              }
            }
          }
          parts.add(part);
        }
      }
      return parts;
    }

    /** One {@code gzip -6 -c} per part, all at once ({@link #commands}). */
    private static long[] gzipParts(List<Path> parts) throws Exception {
      return commands(parts.stream().map(p -> List.of("gzip", "-6", "-c", p.toString())).toList());
    }

    /**
     * Runs a command, its output discarded; returns its wall time and the CPU time it used (that of
     * this JVM's ended children around it), in milliseconds.
     */
    private static long[] command(List<String> cmd) throws Exception {
      return commands(List.of(cmd));
    }

    /**
     * Runs commands all at once, their output discarded; returns the wall time until the last ended
     * and the CPU time they used (that of this JVM's ended children around them), in milliseconds.
     */
    private static long[] commands(List<List<String>> cmds) throws Exception {
      long cpu0 = CpuTime.children();
      long t0 = System.nanoTime();
      List<Process> ps = new ArrayList<>();
      for (List<String> cmd : cmds) {
        ps.add(new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
      }
      List<String> errs = new ArrayList<>();
      for (Process p : ps) {
        // the commands write little to stderr: read in turn, no pipe fills up meanwhile
        errs.add(new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
      }
      int[] rcs = new int[ps.size()];
      for (int i = 0; i < ps.size(); i++) {
        rcs[i] = ps.get(i).waitFor();
      }
      long wall = ms(t0);
      long cpu = (CpuTime.children() - cpu0) / 1_000_000;
      for (int i = 0; i < ps.size(); i++) {
        if (rcs[i] != 0) {
          throw new IllegalStateException(
              cmds.get(i) + " failed (" + rcs[i] + "):\n" + errs.get(i));
        }
      }
      return new long[] {wall, cpu};
    }
  }

  static void report(Map<String, Map<String, Map<String, List<Sample>>>> results, int rounds) {
    int cores = Runtime.getRuntime().availableProcessors();
    for (Map.Entry<String, Map<String, Map<String, List<Sample>>>> tree : results.entrySet()) {
      for (String t : TOOLS) {
        StringBuilder line = new StringBuilder("RESULT tree=" + tree.getKey() + " tool=" + t);
        StringBuilder cpu = new StringBuilder("RESULT tree=" + tree.getKey() + " tool=" + t);
        for (String s : SCENARIOS) {
          List<Sample> samples = tree.getValue().get(t).get(s);
          if (samples.isEmpty()) {
            continue;
          }
          List<Long> xs = samples.stream().map(Sample::wallMs).toList();
          line.append(
              String.format(
                  Locale.ROOT,
                  " %s_median_ms=%d %s_min_ms=%d %s_max_ms=%d",
                  s,
                  median(xs),
                  s,
                  xs.stream().mapToLong(Long::longValue).min().getAsLong(),
                  s,
                  xs.stream().mapToLong(Long::longValue).max().getAsLong()));
          cpu.append(
              String.format(
                  Locale.ROOT,
                  " %s_cpu_median_s=%.2f %s_registry_cpu_median_s=%.2f",
                  s,
                  median(samples.stream().map(Sample::cpuMs).toList()) / 1000.0,
                  s,
                  median(samples.stream().map(Sample::registryCpuMs).toList()) / 1000.0));
        }
        System.out.println(line.append(" rounds=").append(rounds));
        System.out.println(cpu.append(" rounds=").append(rounds));
      }
      for (String s : SCENARIOS) {
        List<Sample> kiln = tree.getValue().get("kiln").get(s);
        if (kiln.isEmpty()) {
          continue;
        }
        List<Sample> jib = tree.getValue().get("jib").get(s);
        List<Sample> docker = tree.getValue().get("docker").get(s);
        double k = Math.max(1, median(kiln.stream().map(Sample::wallMs).toList()));
        System.out.printf(
            Locale.ROOT,
            "RESULT tree=%s scenario=%s jib_vs_kiln=%.2fx docker_vs_kiln=%.2fx (peer median / Kiln median)%n",
            tree.getKey(),
            s,
            median(jib.stream().map(Sample::wallMs).toList()) / k,
            median(docker.stream().map(Sample::wallMs).toList()) / k);
        double kilnCpu = Math.max(1, median(totalCpu(kiln)));
        double floor = Math.max(1, kilnCpu / cores);
        System.out.printf(
            Locale.ROOT,
            "RESULT tree=%s scenario=%s kiln_cpu_floor_s=%.2f jib_vs_floor=%.2fx docker_vs_floor=%.2fx"
                + " jib_cpu_vs_kiln=%.2fx docker_cpu_vs_kiln=%.2fx (floor: median of Kiln's + its"
                + " registry's CPU / %d cores; peer wall median / floor; peer's + its registry's CPU"
                + " / Kiln's + its registry's, medians)%n",
            tree.getKey(),
            s,
            floor / 1000,
            median(jib.stream().map(Sample::wallMs).toList()) / floor,
            median(docker.stream().map(Sample::wallMs).toList()) / floor,
            median(totalCpu(jib)) / kilnCpu,
            median(totalCpu(docker)) / kilnCpu,
            cores);
      }
    }
  }

  /** The CPU time of each build, the tool's and its registry's together, in milliseconds. */
  static List<Long> totalCpu(List<Sample> samples) {
    return samples.stream().map(x -> x.cpuMs() + x.registryCpuMs()).toList();
  }

  static String run(List<String> cmd) throws Exception {
    return run(new ProcessBuilder(cmd).redirectErrorStream(true));
  }

  static String run(ProcessBuilder pb) throws Exception {
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IllegalStateException(pb.command() + " failed:\n" + out);
    }
    return out;
  }

  static void runQuietly(List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    p.waitFor();
  }
}
