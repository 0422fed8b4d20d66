package dev.kiln.docker;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import dev.kiln.RunLayer;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Provisions {@code run} layers ({@link RunLayer}) in containers: see {@link ContainerRunner}.
 * Inputs are hashed (through the stat index) when the layer is prepared, checked to be unchanged
 * before and after the run ({@link InputCheck}), and mounted read-only when it runs; secrets are
 * mounted at {@code /run/secrets/NAME}. Thread-safe.
 */
final class RunProvisioner implements Provisioner {
  static final String SECRETS_DIR = "/run/secrets/";

  private final ContainerRunner runner;

  RunProvisioner(ContainerRunner runner) {
    this.runner = runner;
  }

  @Override
  public String kind() {
    return "run";
  }

  @Override
  public PreparedLayer prepare(Layer layer, KeyContext ctx) throws BakeException {
    if (!(layer instanceof RunLayer run)) {
      throw new ProvisioningException(
          layer.name(),
          "layer kind 'run' must be a dev.kiln.RunLayer, found " + layer.getClass().getName());
    }
    Map<String, Digest> inputDigests = new TreeMap<>();
    InputCheck check = new InputCheck();
    for (RunLayer.Input in : run.inputs()) {
      inputDigests.put(in.target(), digestInput(run.name(), in.source(), ctx, check));
    }
    for (Map.Entry<String, Path> s : run.secrets().entrySet()) {
      if (!Files.isRegularFile(s.getValue())) {
        throw new ProvisioningException(
            run.name(),
            "secret '"
                + s.getKey()
                + "' must be a readable file, but '"
                + s.getValue()
                + "' is not");
      }
    }
    return new PreparedLayer() {
      @Override
      public void fingerprint(Fingerprint fp) {
        fp.put("format", "run.v1");
        fp.put("commands", run.commands());
        fp.put("env", sortedEnv(run.env()));
        fp.put("user", run.user().orElse(""));
        fp.put("workdir", run.workdir().orElse(""));
        inputDigests.forEach((target, d) -> fp.input("input " + target, d));
        fp.put("secrets", List.copyOf(run.secrets().keySet()));
      }

      @Override
      public boolean needsParent() {
        return true;
      }

      @Override
      public LayerBlob provision(ProvisionContext pc) throws BakeException {
        // the container reads the inputs through its mounts: they must be what the key was computed
        // from
        check.beforeRun(run.name(), pc.files());
        LayerBlob blob = runner.run(spec(run), pc).blob();
        check.afterRun(run.name(), pc.files());
        return blob;
      }
    };
  }

  static ContainerRunner.Spec spec(RunLayer run) {
    List<ContainerRunner.Mount> mounts = new ArrayList<>();
    for (RunLayer.Input in : run.inputs()) {
      mounts.add(new ContainerRunner.Mount(in.source(), in.target()));
    }
    run.secrets()
        .forEach((name, file) -> mounts.add(new ContainerRunner.Mount(file, SECRETS_DIR + name)));
    return new ContainerRunner.Spec(
        run.name(),
        script(run.commands()),
        run.env(),
        run.user().orElse(null),
        run.workdir().orElse(null),
        mounts,
        run.timeout(),
        run.network().orElse(null),
        line -> false);
  }

  /**
   * One shell script for the commands: each in braces (so {@code cd} and {@code export} carry over,
   * and a command's trailing comment or {@code ;} cannot swallow the next), chained with {@code &&}
   * so the first failure stops the run with its exit code.
   */
  static String script(List<String> commands) {
    StringBuilder sb = new StringBuilder();
    for (String c : commands) {
      if (sb.length() > 0) {
        sb.append(" && ");
      }
      sb.append("{ ").append(c).append("\n}");
    }
    return sb.toString();
  }

  static List<String> sortedEnv(Map<String, String> env) {
    return new TreeMap<>(env)
        .entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList();
  }

  /**
   * The digest of an input: a file's content and executable bit, or for a directory every entry's
   * relative path, type, executable bit and content (symlinks by target), in sorted order.
   */
  static Digest digestInput(String layer, Path source, KeyContext ctx, InputCheck check)
      throws ProvisioningException {
    FileDigests files = check.recording(ctx.files());
    try {
      if (Files.isRegularFile(source)) {
        Hasher h = Hashing.sha256().newHasher();
        entry(h, "f", "", Files.isExecutable(source) ? "x" : "-", files.digest(source).hex());
        return new Digest(h.hash().toString());
      }
      if (!Files.isDirectory(source)) {
        throw new ProvisioningException(
            layer, "input '" + source + "' does not exist or is neither a file nor a directory");
      }
      List<Path> paths;
      try (Stream<Path> s = Files.walk(source)) {
        paths = s.sorted().toList();
      }
      Hasher h = Hashing.sha256().newHasher();
      for (Path p : paths) {
        String rel = source.relativize(p).toString();
        if (Files.isSymbolicLink(p)) {
          entry(h, "l", rel, "", Files.readSymbolicLink(p).toString());
        } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          entry(h, "d", rel, "", "");
          check.directory(p);
        } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          entry(h, "f", rel, Files.isExecutable(p) ? "x" : "-", files.digest(p).hex());
        }
      }
      return new Digest(h.hash().toString());
    } catch (IOException e) {
      throw new ProvisioningException(
          layer, "cannot read input '" + source + "': " + e.getMessage(), e);
    }
  }

  private static void entry(Hasher h, String... fields) {
    for (String f : fields) {
      byte[] b = f.getBytes(StandardCharsets.UTF_8);
      h.putInt(b.length).putBytes(b);
    }
  }
}
