package dev.kiln.testing;

import static dev.kiln.testing.RemoteCaches.open;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.RemoteCache;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #8's done-when lines against a real backend on loopback: machines (fresh stores) sharing
 * one remote cache, processes racing to write it, the remote stopped mid-bake, and a remote that
 * accepts connections but never answers. A backend's integration test extends this and says how to
 * start, name and stop its server.
 */
public abstract class RemoteCacheFleetContract {
  @TempDir protected Path tmp;

  /**
   * The URI of a fresh, empty cache on the running server, e.g. {@code
   * docker://127.0.0.1:5000/cache-1}.
   */
  protected abstract String freshRemote() throws Exception;

  /**
   * The URI of a cache at a server on {@code 127.0.0.1:port} that accepts connections and never
   * answers.
   */
  protected abstract String remoteAt(int port);

  /** A fresh cache on a server of this test's own, which {@link #stopServer()} stops. */
  protected abstract String stoppableRemote() throws Exception;

  /** Stops the server of {@link #stoppableRemote()} for good (the remote goes down mid-bake). */
  protected abstract void stopServer() throws Exception;

  /**
   * Busybox root file system, a run layer, a files layer: three layers, one of them needing Docker.
   */
  protected ImageBuild threeLayers() throws IOException {
    Tools.requireDocker();
    Path rootfs = Busybox.rootfs(Files.createDirectories(tmp.resolve("rootfs")));
    Path app = Files.createDirectories(tmp.resolve("app"));
    Files.writeString(app.resolve("app.conf"), "port=8080\n");
    byte[] data = new byte[1 << 20];
    new java.util.Random(8).nextBytes(data);
    Files.write(app.resolve("data.bin"), data);
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(
            Layer.run(
                "setup",
                "mkdir -p /opt/app",
                "echo built > /opt/app/marker",
                "ln -s /bin/busybox /opt/app/bb"))
        .layer(Layer.files("app").add(app, "/opt/app/etc"))
        .config(c -> c.cmd("/bin/cat", "/opt/app/marker"));
  }

  protected Kiln.Builder machine(String name, String remote, RecordingListener events) {
    return Kiln.builder()
        .store(tmp.resolve("machines").resolve(name))
        .listener(events)
        .remoteCache(remote)
        .remoteCacheTimeouts(Duration.ofSeconds(5), Duration.ofMinutes(2));
  }

  @Test
  void aSecondMachineBakesWithZeroProvisioningAndTheSameDigests() throws Exception {
    ImageBuild build = threeLayers();
    String remote = freshRemote();
    RecordingListener a = new RecordingListener();
    BakeResult first;
    try (Kiln kiln = machine("a", remote, a).build()) {
      first = kiln.bake(build);
    }
    assertThat(a.provisioned()).containsExactlyInAnyOrder("rootfs", "setup", "app");
    assertThat(a.of(BakeEvent.RemoteCachePushed.class)).hasSize(3);
    assertThat(a.of(BakeEvent.RemoteCacheUnavailable.class)).isEmpty();

    RecordingListener b = new RecordingListener();
    BakeResult second;
    try (Kiln kiln = machine("b", remote, b).build()) {
      second = kiln.bake(build);
    }
    assertThat(b.provisioned()).as("layers provisioned on the second machine").isEmpty();
    assertThat(b.of(BakeEvent.LayerStarted.class)).isEmpty();
    assertThat(b.of(BakeEvent.RemoteCacheHit.class))
        .extracting(BakeEvent.RemoteCacheHit::layer)
        .containsExactlyInAnyOrder("rootfs", "setup", "app");
    assertThat(b.of(BakeEvent.RemoteCacheUnavailable.class)).isEmpty();
    assertThat(second.fromRemoteCache()).containsExactly("rootfs", "setup", "app");
    assertThat(second.digest()).isEqualTo(first.digest());
    assertThat(second.configDigest()).isEqualTo(first.configDigest());
    assertThat(second.layers())
        .extracting(LayerRecord::digest)
        .containsExactlyElementsOf(first.layers().stream().map(LayerRecord::digest).toList());
    assertThat(second.diffIds()).isEqualTo(first.diffIds());
    // the second machine's store holds the same bytes
    Path manifest = tmp.resolve("machines/b/blobs/sha256").resolve(second.digest().hex());
    assertThat(Files.readAllBytes(manifest))
        .isEqualTo(
            Files.readAllBytes(
                tmp.resolve("machines/a/blobs/sha256").resolve(first.digest().hex())));
  }

  @Test
  void processesRacingToWriteTheSameKeysLeaveAConsistentIndex() throws Exception {
    Path tree = tmp.resolve("tree");
    for (int i = 0; i < 6; i++) {
      Path d = Files.createDirectories(tree.resolve("layer-" + i));
      byte[] b = new byte[(i + 1) * 300_000];
      new java.util.Random(i).nextBytes(b);
      Files.write(d.resolve("data-" + i + ".bin"), b);
      Files.writeString(d.resolve("text.txt"), ("layer " + i + "\n").repeat(1000));
    }
    String remote = freshRemote();
    int writers = 3;
    List<Process> procs = new ArrayList<>();
    List<Path> logs = new ArrayList<>();
    for (int i = 0; i < writers; i++) {
      Path log = tmp.resolve("writer-" + i + ".log");
      logs.add(log);
      procs.add(
          Jvm.start(
              RemoteBakeMain.class,
              log,
              tmp.resolve("writer-store-" + i).toString(),
              tree.toString(),
              remote));
    }
    List<String> outputs = new ArrayList<>();
    for (int i = 0; i < writers; i++) {
      assertThat(procs.get(i).waitFor(5, TimeUnit.MINUTES))
          .as("writer " + i + " finished")
          .isTrue();
      String out = Files.readString(logs.get(i));
      assertThat(procs.get(i).exitValue()).as("writer output:\n" + out).isZero();
      assertThat(out).contains("unavailable=0");
      outputs.add(out);
    }
    List<String> layers = outputs.get(0).lines().filter(l -> l.startsWith("layer ")).toList();
    assertThat(layers).hasSize(6);
    for (String out : outputs) {
      assertThat(out.lines().filter(l -> l.startsWith("layer ")).toList())
          .as("every writer baked the same layers")
          .isEqualTo(layers);
    }
    int pushed =
        outputs.stream()
            .mapToInt(
                o ->
                    Integer.parseInt(
                        o.lines()
                            .filter(l -> l.startsWith("pushed="))
                            .findFirst()
                            .orElseThrow()
                            .substring(7)))
            .sum();
    assertThat(pushed).as("entries written by all writers together").isGreaterThanOrEqualTo(6);

    // every key's entry parses and names a blob that is there, with the right digest, size and
    // diffID
    ObjectMapper json = new ObjectMapper();
    try (RemoteCache cache = open(remote)) {
      for (String line : layers) {
        Map<String, String> f = fields(line);
        Digest key = Digest.parse(f.get("key"));
        byte[] raw =
            cache
                .getEntry("keys", key.hex())
                .orElseThrow(() -> new AssertionError("no entry for " + line));
        JsonNode e = json.readTree(raw);
        assertThat(e.path("digest").asText()).isEqualTo(f.get("digest"));
        assertThat(e.path("diffId").asText()).isEqualTo(f.get("diffId"));
        assertThat(e.path("size").asLong()).isEqualTo(Long.parseLong(f.get("size")));
        Digest blob = Digest.parse(f.get("digest"));
        assertThat(cache.hasBlob(blob)).isTrue();
        Path got = tmp.resolve("check-" + blob.hex());
        cache.fetchBlob(blob, got, n -> {});
        assertThat(Files.size(got)).isEqualTo(Long.parseLong(f.get("size")));
        assertThat(Digest.of(Files.readAllBytes(got))).isEqualTo(blob);
      }
    }

    // a third, fresh machine bakes with zero provisioning
    RecordingListener c = new RecordingListener();
    BakeResult third;
    try (Kiln kiln = machine("third", remote, c).build()) {
      third = kiln.bake(BakeMain.definition(tree));
    }
    assertThat(c.provisioned()).isEmpty();
    assertThat(c.of(BakeEvent.RemoteCacheHit.class)).hasSize(6);
    assertThat(outputs.get(0)).contains("image=" + third.digest());
  }

  private static Map<String, String> fields(String line) {
    Map<String, String> m = new TreeMap<>();
    for (String part : line.split(" ")) {
      int eq = part.indexOf('=');
      if (eq > 0) {
        m.put(part.substring(0, eq), part.substring(eq + 1));
      }
    }
    return m;
  }

  @Test
  void theRemoteStoppedMidBakeStillBakesLocallyAndSaysSo() throws Exception {
    ImageBuild build = threeLayers();
    BakeResult plain;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("machines/no-cache")).build()) {
      plain = kiln.bake(build);
    }
    String remote = stoppableRemote();
    try (Kiln kiln = machine("a", remote, new RecordingListener()).build()) {
      assertThat(kiln.bake(build).digest()).isEqualTo(plain.digest());
    }
    // machine b: serial, so the layers are fetched one after another; the server stops after the
    // first hit
    List<String> stopped = new CopyOnWriteArrayList<>();
    AtomicBoolean once = new AtomicBoolean();
    RecordingListener b = new RecordingListener();
    BakeResult r;
    try (Kiln kiln =
        machine("b", remote, b)
            .serial(true)
            .listener(
                e -> {
                  if (e instanceof BakeEvent.RemoteCacheHit hit
                      && once.compareAndSet(false, true)) {
                    try {
                      stopServer();
                      stopped.add(hit.layer());
                    } catch (Exception ex) {
                      throw new IllegalStateException(ex);
                    }
                  }
                })
            .build()) {
      r = kiln.bake(build);
    }
    assertThat(stopped).containsExactly("rootfs");
    assertThat(b.of(BakeEvent.RemoteCacheHit.class))
        .extracting(BakeEvent.RemoteCacheHit::layer)
        .containsExactly("rootfs");
    assertThat(b.of(BakeEvent.RemoteCacheUnavailable.class))
        .as("the bake says the remote went away")
        .hasSize(1);
    assertThat(b.provisioned()).containsExactlyInAnyOrder("setup", "app");
    assertThat(r.fromRemoteCache()).containsExactly("rootfs");
    assertThat(r.digest()).as("the same image as a bake without a cache").isEqualTo(plain.digest());
  }

  @Test
  void aRemoteThatNeverAnswersCostsOneTimeout() throws Exception {
    Path tree = Files.createDirectories(tmp.resolve("small/one"));
    Files.writeString(tree.resolve("f.txt"), "x");
    List<Socket> held = new CopyOnWriteArrayList<>();
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread acceptor =
          new Thread(
              () -> {
                try {
                  while (true) {
                    held.add(silent.accept()); // accepted, never answered
                  }
                } catch (IOException e) {
                  // closed
                }
              });
      acceptor.setDaemon(true);
      acceptor.start();
      RecordingListener e = new RecordingListener();
      long t0 = System.nanoTime();
      BakeResult r;
      try (Kiln kiln =
          Kiln.builder()
              .store(tmp.resolve("machines/silent"))
              .listener(e)
              .remoteCache(remoteAt(silent.getLocalPort()))
              .remoteCacheTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(30))
              .build()) {
        r = kiln.bake(BakeMain.definition(tmp.resolve("small")));
      }
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(r.provisioned()).containsExactly("one");
      assertThat(held).as("the client did connect").isNotEmpty();
      assertThat(e.of(BakeEvent.RemoteCacheUnavailable.class))
          .singleElement()
          .satisfies(u -> assertThat(u.reason()).contains("no answer in 2 s"));
      assertThat(ms).as("bake time with a silent remote and a 2 s timeout").isLessThan(15_000);
    } finally {
      for (Socket s : held) {
        s.close();
      }
    }
  }
}
