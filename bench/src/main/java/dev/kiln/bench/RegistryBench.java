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
 * fresh registry), <b>unchanged</b> (the same build again), <b>changed</b> (after one file
 * changed). One warm-up round per tree is not counted. The reported digests are checked round by
 * round (unchanged gives the cold digest, changed another one), and after the last round each
 * tool's image is inspected in its registry with {@code skopeo inspect} and every layer blob is
 * asked for.
 *
 * <p>Usage: {@code RegistryBench WORKDIR ROUNDS TREES}, TREES a comma list of jdk, small, app whose
 * build contexts {@code WORKDIR/ctx-TREE} scripts/bench-registry.sh prepares. {@code
 * DOCKER_BUILDKIT} is passed to docker build as set (the script sets 1). Prints one line per tool
 * and round and {@code RESULT} lines with medians, minimums, maximums and ratios.
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
    Map<String, Map<String, Map<String, List<Long>>>> results = new LinkedHashMap<>();
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
        Map<String, Map<String, List<Long>>> byTool = new LinkedHashMap<>();
        for (String t : TOOLS) {
          Map<String, List<Long>> byScenario = new LinkedHashMap<>();
          SCENARIOS.forEach(s -> byScenario.put(s, new ArrayList<>()));
          byTool.put(t, byScenario);
        }
        results.put(tree.name(), byTool);
        Map<String, String> lastDigest = new LinkedHashMap<>();
        for (int round = -1; round < rounds; round++) {
          for (String t : TOOLS) {
            Tool tool = tools.get(t);
            String ref = registries.fresh(t) + "/bench-" + tree.name() + ":latest";
            tool.reset(ref);
            long t0 = System.nanoTime();
            String cold = tool.build(Scenario.COLD);
            long c = ms(t0);
            String coldNote = tool.note();
            long t1 = System.nanoTime();
            String same = tool.build(Scenario.UNCHANGED);
            long u = ms(t1);
            String sameNote = tool.note();
            change(tree, t, round);
            long t2 = System.nanoTime();
            String changed = tool.build(Scenario.CHANGED);
            long ch = ms(t2);
            String changedNote = tool.note();
            if (!same.equals(cold) || changed.equals(same)) {
              throw new IllegalStateException(
                  t
                      + " gave "
                      + cold
                      + " cold, "
                      + same
                      + " unchanged (must be the same), "
                      + changed
                      + " changed (must differ)");
            }
            lastDigest.put(t, ref + "@" + changed);
            System.out.printf(
                Locale.ROOT,
                "%s %s %s %d: cold %d ms%s, unchanged %d ms%s, changed %d ms%s%n",
                tree.name(),
                t,
                round < 0 ? "warm-up" : "round",
                round,
                c,
                coldNote,
                u,
                sameNote,
                ch,
                changedNote);
            if (round >= 0) {
              Map<String, List<Long>> r = byTool.get(t);
              r.get("cold").add(c);
              r.get("unchanged").add(u);
              r.get("changed").add(ch);
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
  }

  enum Scenario {
    COLD,
    UNCHANGED,
    CHANGED
  }

  interface Tool extends AutoCloseable {
    /** Empties every cache of the tool (untimed); it pushes to {@code ref} from now on. */
    void reset(String ref) throws Exception;

    /** Builds and pushes the image; returns the manifest digest the tool reports. */
    String build(Scenario s) throws Exception;

    /** What the last build did, for the per-round line ("" when nothing to say). */
    default String note() {
      return "";
    }

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
    public void close() throws IOException {
      deleteTree(work);
    }
  }

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

        @Override
        public String build(Scenario s) throws Exception {
          Set<String> before = buildCache();
          long t0 = System.nanoTime();
          ProcessBuilder pb =
              new ProcessBuilder(DOCKER, "build", "-q", "-t", ref, tree.ctx().toString())
                  .redirectErrorStream(true);
          pb.environment().put("DOCKER_BUILDKIT", buildkit);
          String id = run(pb).strip();
          long built = ms(t0);
          String push = run(new ProcessBuilder(DOCKER, "push", ref).redirectErrorStream(true));
          long total = ms(t0);
          Set<String> after = buildCache();
          after.removeAll(before);
          cacheRecords.addAll(after);
          images.add(id.substring(id.lastIndexOf('\n') + 1));
          tags.add(ref);
          if (builder == null) {
            builder =
                after.isEmpty()
                    ? "the legacy builder (DOCKER_BUILDKIT="
                        + buildkit
                        + ": no build-cache records)"
                    : "BuildKit (DOCKER_BUILDKIT=" + buildkit + ")";
            System.out.println("docker build uses " + builder);
          }
          Matcher m = Pattern.compile("digest: (sha256:[0-9a-f]{64})").matcher(push);
          if (!m.find()) {
            throw new IllegalStateException("no digest in the output of docker push:\n" + push);
          }
          note = String.format(Locale.ROOT, " (build %d ms, push %d ms)", built, total - built);
          return m.group(1);
        }

        @Override
        public String note() {
          return note;
        }
      };
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

  static void report(Map<String, Map<String, Map<String, List<Long>>>> results, int rounds) {
    for (Map.Entry<String, Map<String, Map<String, List<Long>>>> tree : results.entrySet()) {
      for (String t : TOOLS) {
        StringBuilder line = new StringBuilder("RESULT tree=" + tree.getKey() + " tool=" + t);
        for (String s : SCENARIOS) {
          List<Long> xs = tree.getValue().get(t).get(s);
          if (xs.isEmpty()) {
            continue;
          }
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
        }
        System.out.println(line.append(" rounds=").append(rounds));
      }
      for (String s : SCENARIOS) {
        List<Long> kiln = tree.getValue().get("kiln").get(s);
        if (kiln.isEmpty()) {
          continue;
        }
        double k = Math.max(1, median(kiln));
        System.out.printf(
            Locale.ROOT,
            "RESULT tree=%s scenario=%s jib_vs_kiln=%.2fx docker_vs_kiln=%.2fx (peer median / Kiln median)%n",
            tree.getKey(),
            s,
            median(tree.getValue().get("jib").get(s)) / k,
            median(tree.getValue().get("docker").get(s)) / k);
      }
    }
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
