package dev.kiln.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.WaitContainerResultCallback;
import com.github.dockerjava.api.exception.DockerClientException;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.ChangeLog;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.StreamType;
import com.github.dockerjava.api.model.Volume;
import dev.kiln.Platform;
import dev.kiln.ProvisioningException;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.ProvisionContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a shell script in a container of a layer's parent image and turns what it changed into the
 * layer: the parent is loaded into the daemon once ({@link ParentImages}), the script runs with the
 * layer's environment, user, working directory, network and read-only mounts, its output goes to
 * the bake's listeners line by line, and the container's changes ({@link ContainerChanges}) go
 * through the canonical layer writer. The container is removed whatever happens. Thread-safe.
 */
final class ContainerRunner {
  static final String LAYER_LABEL = "dev.kiln.layer";
  static final int TAIL_LINES = 20;
  private static final Logger log = LoggerFactory.getLogger(ContainerRunner.class);

  /** A file or directory of the build machine mounted read-only into the container. */
  record Mount(Path source, String target) {}

  /**
   * What to run. {@code hide} selects output lines that are for the provisioner only (markers).
   * {@code hostname} (null: Docker's default, the container id) and {@code tmpfs} (mount points of
   * empty tmpfs file systems, mode 1777, never part of the layer) are for sessions; changes under
   * {@code leftOut} are not part of the layer either.
   */
  record Spec(
      String layer,
      String script,
      Map<String, String> env,
      String user,
      String workdir,
      List<Mount> mounts,
      Duration timeout,
      String network,
      Predicate<String> hide,
      String hostname,
      List<String> tmpfs,
      List<String> leftOut) {

    Spec(
        String layer,
        String script,
        Map<String, String> env,
        String user,
        String workdir,
        List<Mount> mounts,
        Duration timeout,
        String network,
        Predicate<String> hide) {
      this(
          layer, script, env, user, workdir, mounts, timeout, network, hide, null, List.of(),
          List.of());
    }

    /** Paths whose changes are never part of the layer: mount points, tmpfs and {@code leftOut}. */
    List<String> excluded() {
      List<String> x = new ArrayList<>(mounts.stream().map(Mount::target).toList());
      x.addAll(tmpfs);
      x.addAll(leftOut);
      return x;
    }
  }

  /** What a command run in the container ({@code docker exec}) printed, and its exit code. */
  record ExecResult(int exitCode, String output) {}

  /** A running container of the parent image, for the host-side work of a {@link Session}. */
  interface Container {
    /** The container's id, as {@code docker exec} and Ansible's docker connection name it. */
    String id();

    /**
     * The daemon the container runs on, for clients of its own (the docker CLI's {@code
     * DOCKER_HOST}).
     */
    URI dockerHost();

    /** Runs a command in the container as root, without a shell, bounded by {@code timeout}. */
    ExecResult exec(List<String> command, Duration timeout) throws ProvisioningException;
  }

  /** Work done from the build machine against the running container, such as an Ansible play. */
  @FunctionalInterface
  interface Session {
    void run(Container container) throws ProvisioningException;
  }

  /** A finished run: the layer and every line the script printed that {@code hide} selected. */
  record Result(LayerBlob blob, List<String> hidden) {}

  private final Supplier<Daemon> daemons;
  private final boolean keepParents;

  ContainerRunner(Supplier<Daemon> daemons, boolean keepParents) {
    this.daemons = daemons;
    this.keepParents = keepParents;
  }

  Result run(Spec spec, ProvisionContext ctx) throws ProvisioningException {
    return new Run(daemon(spec.layer()), spec, ctx).run(null);
  }

  /**
   * Starts a container of the layer's parent image that only waits (the spec's script runs first
   * and should end by blocking on its standard input, which stays open), hands it to {@code
   * session}, then stops it and turns what changed into the layer, as {@link #run} does. The
   * container is removed whatever happens.
   */
  Result session(Spec spec, ProvisionContext ctx, Session session) throws ProvisioningException {
    return new Run(daemon(spec.layer()), spec, ctx).run(session);
  }

  private Daemon daemon(String layer) throws ProvisioningException {
    try {
      Daemon daemon = daemons.get();
      daemon.checkReachable();
      return daemon;
    } catch (IllegalArgumentException e) {
      throw new ProvisioningException(layer, e.getMessage(), e);
    } catch (Daemon.DaemonUnavailableException e) {
      throw new ProvisioningException(layer, e.getMessage(), e);
    }
  }

  /** One run of one layer on one daemon. */
  private final class Run {
    private final Daemon daemon;
    private final Spec spec;
    private final ProvisionContext ctx;

    Run(Daemon daemon, Spec spec, ProvisionContext ctx) {
      this.daemon = daemon;
      this.spec = spec;
      this.ctx = ctx;
    }

    Result run(Session session) throws ProvisioningException {
      String layer = spec.layer();
      ImageView parent = ctx.parent();
      if (parent.layers().isEmpty()) {
        throw new ProvisioningException(
            layer,
            "the image below is empty: a "
                + (session == null ? "run" : "container")
                + " layer needs a base with"
                + " a shell at /bin/sh (e.g. Base.rootfs(...))");
      }
      Platform platform = ctx.platform();
      boolean foreign;
      try {
        Platform daemonPlatform = daemon.platform();
        foreign = !platform.architecture().equals(daemonPlatform.architecture());
        Emulation.check(layer, platform, daemonPlatform, daemon.isLocal());
      } catch (RuntimeException e) {
        throw new ProvisioningException(
            layer, "the Docker daemon at " + daemon.host() + " failed: " + e.getMessage(), e);
      }
      try (ParentImages.Lease lease = acquire(layer, parent)) {
        String id = create(spec, lease.imageId(), session != null, foreign ? platform : null);
        try {
          Output out = new Output(layer, ctx, spec.hide());
          if (session == null) {
            int exit = runToExit(spec, id, out);
            if (exit != 0) {
              throw new ProvisioningException(
                  layer,
                  foreign && Emulation.execFormatError(String.join("\n", out.tail()))
                      ? "the commands failed in an emulated "
                          + platform
                          + " container: the host could not run its binaries ("
                          + Emulation.howToInstall(platform)
                          + ")"
                      : "the commands failed in a container of the image below",
                  exit,
                  out.tail(),
                  null);
            }
          } else {
            runSession(spec, id, out, session);
          }
          LayerBlob blob = capture(layer, id, spec, ctx);
          lease.succeeded();
          return new Result(blob, out.hidden());
        } finally {
          remove(id);
        }
      } catch (RuntimeException e) {
        throw dockerFailure(layer, e);
      }
    }

    private ParentImages.Lease acquire(String layer, ImageView parent)
        throws ProvisioningException {
      try {
        return ParentImages.of(daemon).acquire(parent, keepParents);
      } catch (IOException e) {
        throw new ProvisioningException(
            layer, "could not load the image below into the Docker daemon: " + e.getMessage(), e);
      } catch (RuntimeException e) {
        throw dockerFailure(layer, e);
      }
    }

    /**
     * Starts the waiting container, runs the session against it, and stops it so that nothing
     * changes any more.
     */
    private void runSession(Spec spec, String id, Output out, Session session)
        throws ProvisioningException {
      DockerClient c = daemon.client();
      try {
        c.startContainerCmd(id).exec();
      } catch (DockerException e) {
        throw new ProvisioningException(
            spec.layer(), "the container did not start: " + e.getMessage().strip(), e);
      }
      ResultCallback.Adapter<Frame> logs =
          c.logContainerCmd(id).withStdOut(true).withStdErr(true).withFollowStream(true).exec(out);
      try {
        session.run(
            new Container() {
              @Override
              public String id() {
                return id;
              }

              @Override
              public URI dockerHost() {
                return daemon.host();
              }

              @Override
              public ExecResult exec(List<String> command, Duration timeout)
                  throws ProvisioningException {
                return Run.this.exec(spec.layer(), id, command, timeout);
              }
            });
      } finally {
        // stopped before it is read: nothing may change between the diff and the export
        kill(id);
        try {
          c.waitContainerCmd(id)
              .exec(new WaitContainerResultCallback())
              .awaitStatusCode(30, TimeUnit.SECONDS);
        } catch (RuntimeException e) {
          log.debug("wait {}: {}", id, e.toString());
        }
        awaitLogs(logs);
      }
    }

    private ExecResult exec(String layer, String id, List<String> command, Duration timeout)
        throws ProvisioningException {
      DockerClient c = daemon.client();
      String exec =
          c.execCreateCmd(id)
              .withCmd(command.toArray(String[]::new))
              .withUser("0")
              .withAttachStdout(true)
              .withAttachStderr(true)
              .exec()
              .getId();
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      ResultCallback.Adapter<Frame> cb =
          new ResultCallback.Adapter<>() {
            @Override
            public void onNext(Frame frame) {
              synchronized (buf) {
                buf.writeBytes(frame.getPayload());
              }
            }
          };
      try {
        if (!c.execStartCmd(exec)
            .exec(cb)
            .awaitCompletion(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new ProvisioningException(
              layer, "'" + String.join(" ", command) + "' did not finish within " + human(timeout));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ProvisioningException(
            layer, "interrupted while running '" + String.join(" ", command) + "'", e);
      }
      Long code = c.inspectExecCmd(exec).exec().getExitCodeLong();
      synchronized (buf) {
        return new ExecResult(
            code == null ? -1 : code.intValue(), buf.toString(StandardCharsets.UTF_8));
      }
    }

    /** Creates the container; {@code foreign} is the platform to emulate, null when native. */
    private String create(Spec spec, String image, boolean session, Platform foreign) {
      DockerClient c = daemon.client();
      List<Bind> binds = new ArrayList<>();
      for (Mount m : spec.mounts()) {
        binds.add(new Bind(m.source().toString(), new Volume(m.target()), AccessMode.ro));
      }
      HostConfig host = HostConfig.newHostConfig().withBinds(binds);
      if (spec.network() != null) {
        host = host.withNetworkMode(spec.network());
      }
      if (!spec.tmpfs().isEmpty()) {
        Map<String, String> tmpfs = new java.util.LinkedHashMap<>();
        spec.tmpfs().forEach(t -> tmpfs.put(t, "mode=1777"));
        host = host.withTmpFs(tmpfs);
      }
      List<String> env = new ArrayList<>();
      spec.env().forEach((k, v) -> env.add(k + "=" + v));
      CreateContainerCmd cmd =
          c.createContainerCmd(image)
              .withEntrypoint("/bin/sh", "-c")
              // one stream: Docker copies stdout and stderr separately, so their lines would reach
              // us out of order
              .withCmd("exec 2>&1\n" + spec.script())
              .withEnv(env)
              .withLabels(Map.of(LAYER_LABEL, spec.layer()))
              .withTty(false)
              .withAttachStdout(false)
              .withAttachStderr(false)
              .withHostConfig(host);
      if (foreign != null) {
        cmd = cmd.withPlatform(foreign.toString());
      }
      if (session) {
        // the script ends by waiting on its standard input, which Docker keeps open while nothing
        // is attached
        cmd = cmd.withStdinOpen(true);
      }
      if (spec.hostname() != null) {
        cmd = cmd.withHostName(spec.hostname());
      }
      if (spec.user() != null) {
        cmd = cmd.withUser(spec.user());
      }
      if (spec.workdir() != null) {
        cmd = cmd.withWorkingDir(spec.workdir());
      }
      return cmd.exec().getId();
    }

    private int runToExit(Spec spec, String id, Output out) throws ProvisioningException {
      DockerClient c = daemon.client();
      try {
        c.startContainerCmd(id).exec();
      } catch (DockerException e) {
        throw new ProvisioningException(
            spec.layer(),
            "the container did not start: "
                + e.getMessage().strip()
                + (spec.user() != null ? " (user '" + spec.user() + "')" : ""),
            e);
      }
      ResultCallback.Adapter<Frame> logs =
          c.logContainerCmd(id).withStdOut(true).withStdErr(true).withFollowStream(true).exec(out);
      long started = System.nanoTime();
      Integer code;
      try {
        code =
            c.waitContainerCmd(id)
                .exec(new WaitContainerResultCallback())
                .awaitStatusCode(spec.timeout().toMillis(), TimeUnit.MILLISECONDS);
      } catch (DockerClientException e) {
        if (System.nanoTime() - started >= spec.timeout().toNanos() - 1_000_000) {
          kill(id);
          awaitLogs(logs);
          throw new ProvisioningException(
              spec.layer(),
              "the commands did not finish within " + human(spec.timeout()) + " and were stopped",
              null,
              out.tail(),
              null);
        }
        throw e;
      }
      awaitLogs(logs);
      return code == null ? -1 : code;
    }

    private static void awaitLogs(ResultCallback.Adapter<Frame> logs) {
      try {
        logs.awaitCompletion(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        try {
          logs.close();
        } catch (IOException e) {
          // the stream is done either way
        }
      }
    }

    private void kill(String id) {
      try {
        daemon.client().killContainerCmd(id).exec();
      } catch (RuntimeException e) {
        log.debug("kill {}: {}", id, e.toString());
      }
    }

    private void remove(String id) {
      try {
        daemon.client().removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec();
      } catch (NotFoundException e) {
        // already gone
      } catch (RuntimeException e) {
        log.warn("could not remove container {}: {}", id, e.toString());
      }
    }

    private LayerBlob capture(String layer, String id, Spec spec, ProvisionContext ctx)
        throws ProvisioningException {
      List<ContainerChanges.Change> changes = new ArrayList<>();
      List<ChangeLog> diff = daemon.client().containerDiffCmd(id).exec();
      if (diff != null) {
        for (ChangeLog cl : diff) {
          changes.add(
              new ContainerChanges.Change(cl.getPath(), ContainerChanges.Kind.of(cl.getKind())));
        }
      }
      ContainerChanges cc = new ContainerChanges(changes, spec.excluded());
      Path tmp = null;
      try (LayerWriter w = ctx.newLayerWriter()) {
        if (!cc.isEmpty()) {
          tmp = ctx.newTempDirectory();
          Path export = tmp.resolve("export.tar");
          try (InputStream in = daemon.export(id)) {
            Files.copy(in, export);
          }
          List<ContainerChanges.Fetch> fetches;
          try (LayerReader r = LayerReader.open(export)) {
            fetches = cc.write(r, w);
          } finally {
            Files.deleteIfExists(export);
          }
          for (ContainerChanges.Fetch f : fetches) {
            fetch(id, f, tmp.resolve("fetch.tar"), w);
          }
        }
        return w.finish();
      } catch (IOException | IllegalArgumentException e) {
        throw new ProvisioningException(
            layer, "could not read what the commands changed: " + e.getMessage(), e);
      } finally {
        if (tmp != null) {
          try {
            Files.deleteIfExists(tmp.resolve("fetch.tar"));
          } catch (IOException e) {
            // the bake's temp area is swept at the end
          }
        }
      }
    }

    /** Reads one file whose content the export gave only as a hard link to an unchanged file. */
    private void fetch(String id, ContainerChanges.Fetch f, Path file, LayerWriter w)
        throws IOException {
      try (InputStream in = daemon.archive(id, "/" + f.path())) {
        Files.copy(in, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
      try (LayerReader r = LayerReader.open(file)) {
        LayerEntry e = r.next();
        if (e == null || e.type() != LayerEntry.Type.FILE) {
          throw new IOException(
              "the container's archive of '/" + f.path() + "' holds no regular file");
        }
        LayerEntry entry =
            new LayerEntry(
                f.path(),
                LayerEntry.Type.FILE,
                e.mode(),
                e.uid(),
                e.gid(),
                e.size(),
                "",
                0,
                0,
                e.xattrs(),
                e.content());
        try (InputStream content = e.content().open()) {
          w.add(entry, content);
        }
      }
    }

    private ProvisioningException dockerFailure(String layer, RuntimeException e) {
      if (Daemon.isConnectionFailure(e)) {
        return new ProvisioningException(layer, daemon.unavailable(e).getMessage(), e);
      }
      String msg = e.getMessage() == null ? e.toString() : e.getMessage().strip();
      return new ProvisioningException(
          layer, "the Docker daemon at " + daemon.host() + " failed: " + msg, e);
    }
  }

  static String human(Duration d) {
    if (d.toSeconds() < 120) {
      return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
    return d.toMinutes() + " min";
  }

  /** Splits the container's output into lines, for the listeners and the tail an error shows. */
  static final class Output extends ResultCallback.Adapter<Frame> {
    private final String layer;
    private final ProvisionContext ctx;
    private final Predicate<String> hide;
    private final Map<StreamType, ByteArrayOutputStream> partial = new EnumMap<>(StreamType.class);
    private final Deque<String> tail = new ArrayDeque<>();
    private final List<String> hidden = new ArrayList<>();

    Output(String layer, ProvisionContext ctx, Predicate<String> hide) {
      this.layer = layer;
      this.ctx = ctx;
      this.hide = hide;
    }

    @Override
    public synchronized void onNext(Frame frame) {
      ByteArrayOutputStream buf =
          partial.computeIfAbsent(frame.getStreamType(), t -> new ByteArrayOutputStream());
      for (byte b : frame.getPayload()) {
        if (b == '\n') {
          line(buf);
        } else {
          buf.write(b);
        }
      }
    }

    @Override
    public synchronized void onComplete() {
      for (ByteArrayOutputStream buf : partial.values()) {
        if (buf.size() > 0) {
          line(buf);
        }
      }
      super.onComplete();
    }

    private void line(ByteArrayOutputStream buf) {
      String s = buf.toString(StandardCharsets.UTF_8);
      buf.reset();
      if (s.endsWith("\r")) {
        s = s.substring(0, s.length() - 1);
      }
      if (hide.test(s)) {
        hidden.add(s);
        return;
      }
      tail.addLast(s);
      if (tail.size() > TAIL_LINES) {
        tail.removeFirst();
      }
      ctx.emit(new BakeEvent.Output(layer, s));
    }

    synchronized List<String> tail() {
      return List.copyOf(tail);
    }

    synchronized List<String> hidden() {
      return List.copyOf(hidden);
    }
  }
}
