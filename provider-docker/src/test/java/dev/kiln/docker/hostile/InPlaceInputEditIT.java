package dev.kiln.docker.hostile;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.ProvisioningException;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.StaleStatIndex;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inputs of {@code run} and {@code ansible} layers edited in place: the container (or Ansible)
 * reads them itself, so a file edited between hashing and the run, during the run, or in a way the
 * stat index cannot see must fail the layer, naming the file, instead of leaving its new content
 * under the old key. Against the real Docker engine and Ansible, on a busybox base built without
 * pulling.
 */
class InPlaceInputEditIT {
  private static final byte[] SAFE = "mode=SAFE\n".getBytes(UTF_8);
  private static final byte[] EVIL = "mode=EVIL\n".getBytes(UTF_8);

  @TempDir Path tmp;

  /** What the listener does on the first event that matches; cleared once done. */
  private final AtomicReference<Predicate<BakeEvent>> when = new AtomicReference<>();

  private final AtomicReference<Path> edit = new AtomicReference<>();

  @BeforeAll
  static void docker() {
    Tools.requireDocker();
  }

  private Kiln kiln(String store) throws IOException {
    return Kiln.builder()
        .store(tmp.resolve(store))
        .listener(
            e -> {
              Predicate<BakeEvent> w = when.get();
              if (w != null && w.test(e) && when.compareAndSet(w, null)) {
                try {
                  Files.write(edit.get(), EVIL);
                } catch (IOException ex) {
                  throw new java.io.UncheckedIOException(ex);
                }
              }
            })
        .build();
  }

  private void editOn(Path file, Predicate<BakeEvent> event) {
    edit.set(file);
    when.set(event);
  }

  private ImageBuild runBuild(Path rootfs, Path in) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(Layer.run("copy", "echo copying", "cp /in/app.conf /app.conf").input(in, "/in"));
  }

  @Test
  void aRunInputEditedBetweenHashingAndTheRun() throws Exception {
    Path rootfs = Busybox.rootfs(Files.createDirectories(tmp.resolve("busybox")));
    Path in = Files.createDirectories(tmp.resolve("in"));
    Path conf = Files.write(in.resolve("app.conf"), SAFE);
    try (Kiln k = kiln("store")) {
      editOn(conf, e -> e instanceof BakeEvent.LayerStarted s && s.layer().equals("copy"));
      expectErrorOrRightLayer(k, runBuild(rootfs, in), conf, "app.conf", "copy");
    }
  }

  @Test
  void aRunInputEditedWhileTheContainerRuns() throws Exception {
    Path rootfs = Busybox.rootfs(Files.createDirectories(tmp.resolve("busybox")));
    Path in = Files.createDirectories(tmp.resolve("in"));
    Path conf = Files.write(in.resolve("app.conf"), SAFE);
    ImageBuild build =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(
                Layer.run(
                        "copy",
                        "echo started",
                        // the edit, made when "started" reaches the listener, shows through the
                        // read-only mount at once (the loop ends on its first turn); the bake
                        // again afterwards, with no edit, waits out the loop: 5 s
                        "i=0; while [ $i -lt 100 ] && ! grep -q EVIL /in/app.conf; do sleep 0.05; i=$((i+1)); done",
                        "cp /in/app.conf /app.conf")
                    .input(in, "/in"));
    try (Kiln k = kiln("store")) {
      editOn(conf, e -> e instanceof BakeEvent.Output o && o.line().contains("started"));
      expectErrorOrRightLayer(k, build, conf, "app.conf", "copy");
    }
  }

  /** The stat index has the input's current stat with the digest of what it held before. */
  @Test
  void aRunInputWithAStaleStatIndexEntry() throws Exception {
    Path rootfs = Busybox.rootfs(Files.createDirectories(tmp.resolve("busybox")));
    Path in = Files.createDirectories(tmp.resolve("in"));
    Path conf = Files.write(in.resolve("app.conf"), EVIL);
    kiln("store").close(); // the store exists
    StaleStatIndex.write(
        tmp.resolve("store"),
        conf,
        Digest.fromBytes(MessageDigest.getInstance("SHA-256").digest(SAFE)));
    try (Kiln k = kiln("store")) {
      Throwable t = catchThrowable(() -> k.bake(runBuild(rootfs, in)));
      assertThat(t)
          .as("the layer was stored with EVIL content under the key of SAFE content")
          .isNotNull()
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining(conf.toString());
      assertThat(read(k.bake(runBuild(rootfs, in)), "copy", "app.conf")).isEqualTo(EVIL);
    }
  }

  /**
   * Ansible reads the playbook tree while it plays: an edit after hashing, before the play, fails
   * the layer.
   */
  @Test
  void anAnsibleTreeEditedBetweenHashingAndThePlay() throws Exception {
    Tools.require("ansible-playbook", "ansible");
    Path rootfs = Busybox.rootfs(Files.createDirectories(tmp.resolve("busybox")));
    Path conf = playbook(tmp.resolve("ansible"));
    try (Kiln k = kiln("store")) {
      editOn(conf, e -> e instanceof BakeEvent.LayerStarted s && s.layer().equals("play"));
      expectErrorOrRightLayer(
          k, ansibleBuild(rootfs, tmp.resolve("ansible")), conf, "app.conf", "play");
    }
  }

  /**
   * The file is edited while the play runs, between the task that prints the marker and the one
   * that reads it.
   */
  @Test
  void anAnsibleTreeEditedDuringThePlay() throws Exception {
    Tools.require("ansible-playbook", "ansible");
    Path rootfs = Busybox.rootfs(Files.createDirectories(tmp.resolve("busybox")));
    Path conf = playbook(tmp.resolve("ansible"));
    try (Kiln k = kiln("store")) {
      editOn(conf, e -> e instanceof BakeEvent.Output o && o.line().contains("kiln-marker"));
      expectErrorOrRightLayer(
          k, ansibleBuild(rootfs, tmp.resolve("ansible")), conf, "app.conf", "play");
    }
  }

  // ---- helpers ----

  /**
   * A play that needs no python in the image: raw tasks, the second writing the host file's content
   * into it.
   */
  private static Path playbook(Path dir) throws IOException {
    Files.createDirectories(dir.resolve("files"));
    Files.writeString(
        dir.resolve("site.yml"),
        String.join(
            "\n",
            "- hosts: all",
            "  gather_facts: false",
            "  tasks:",
            "    - name: kiln-marker",
            "      raw: echo kiln-marker",
            "    - name: write",
            "      raw: \"printf '%s\\\\n' '{{ lookup('file', 'files/app.conf') }}' > /app.conf\"",
            ""));
    return Files.write(dir.resolve("files/app.conf"), SAFE);
  }

  /** Busybox with a stand-in python3 (the raw tasks need none; Kiln checks that one answers). */
  private ImageBuild ansibleBuild(Path rootfs, Path dir) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(
            Layer.files("python")
                .content(
                    "/usr/bin/python3", "#!/bin/sh\necho Python 3.11.2\n".getBytes(UTF_8), 0755))
        .layer(Layer.ansible(dir.resolve("site.yml")).named("play"));
  }

  /**
   * Bakes, with the edit to EVIL made by the listener: the bake fails naming the file, or the layer
   * holds what its key was computed from. Then SAFE is put back and a bake into the same store
   * holds SAFE.
   */
  private void expectErrorOrRightLayer(
      Kiln k, ImageBuild build, Path file, String entry, String layer) throws Exception {
    Throwable t = catchThrowable(() -> k.bake(build));
    assertThat(when.get()).as("the edit was made").isNull();
    if (t == null) {
      throw new AssertionError(
          "the bake stored a layer from " + file + " edited after it was hashed");
    }
    assertThat(t)
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("changed");
    Files.write(file, SAFE);
    BakeResult again = k.bake(build);
    assertThat(new String(read(again, layer, entry), UTF_8)).isEqualTo(new String(SAFE, UTF_8));
  }

  private static byte[] read(BakeResult r, String layer, String path) throws IOException {
    Path store = r.record().getParent().getParent();
    LayerRecord l =
        r.layers().stream().filter(x -> x.name().equals(layer)).findFirst().orElseThrow();
    try (LayerReader reader =
        LayerReader.open(store.resolve("blobs/sha256").resolve(l.digest().hex()))) {
      LayerEntry e;
      while ((e = reader.next()) != null) {
        if (e.path().equals(path) && e.type() == LayerEntry.Type.FILE) {
          try (InputStream in = e.content().open()) {
            return in.readAllBytes();
          }
        }
      }
    }
    throw new AssertionError(path + " is not in layer " + layer);
  }
}
