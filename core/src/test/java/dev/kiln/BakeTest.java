package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.event.BakeEvent;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.Settle;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Baking with files and tar layers into a local store: caching, sharing, corruption and bad input.
 */
class BakeTest {
  @TempDir Path tmp;
  Path storeDir;
  RecordingListener events;
  Kiln kiln;

  @BeforeEach
  void setUp() throws IOException {
    storeDir = tmp.resolve("store");
    events = new RecordingListener();
    kiln = Kiln.builder().store(storeDir).listener(events).build();
  }

  @AfterEach
  void tearDown() throws IOException {
    kiln.close();
  }

  private Path tree(String name, String... files) throws IOException {
    Path root = Files.createDirectories(tmp.resolve(name));
    for (int i = 0; i < files.length; i += 2) {
      Path f = root.resolve(files[i]);
      Files.createDirectories(f.getParent());
      Files.writeString(f, files[i + 1]);
    }
    Settle
        .inputs(); // as files are, once written: older than one timestamp tick when they are first
    // hashed
    return root;
  }

  private ImageBuild threeLayers(Path deps, Path app, Path conf) {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("deps").add(deps, "/opt/deps"))
        .layer(Layer.files("app").add(app, "/opt/app"))
        .layer(Layer.files("conf").add(conf, "/etc/app"))
        .config(c -> c.entrypoint("/opt/app/run").env("PORT", "8080"));
  }

  @Test
  void secondBakeProvisionsNothingAndReadsNoFileContent() throws Exception {
    Path deps = tree("deps", "a.jar", "aaa", "lib/b.jar", "bbb");
    Path app = tree("app", "run", "#!/bin/sh\necho hi\n");
    Path conf = tree("conf", "app.conf", "port=8080\n");
    ImageBuild build = threeLayers(deps, app, conf);

    BakeResult first = kiln.bake(build);
    assertThat(events.provisioned()).containsExactlyInAnyOrder("deps", "app", "conf");
    assertThat(first.provisioned()).containsExactly("deps", "app", "conf");
    assertThat(events.filesRead()).isEqualTo(4);

    events.clear();
    BakeResult second = kiln.bake(build);
    assertThat(second.digest()).isEqualTo(first.digest());
    assertThat(events.provisioned()).isEmpty();
    assertThat(events.of(BakeEvent.LayerStarted.class)).isEmpty();
    assertThat(events.of(BakeEvent.CacheHit.class)).hasSize(3);
    assertThat(events.filesRead()).as("files read on a no-op rebake").isZero();
    assertThat(events.bytesRead()).isZero();
    assertThat(second.provisioned()).isEmpty();
  }

  @Test
  void changingOneFileReprovisionsThatLayerAndTheOnesAboveOnly() throws Exception {
    Path deps = tree("deps", "a.jar", "aaa");
    Path app = tree("app", "run", "v1");
    Path conf = tree("conf", "app.conf", "x");
    BakeResult first = kiln.bake(threeLayers(deps, app, conf));

    Files.writeString(app.resolve("run"), "v2");
    events.clear();
    BakeResult second = kiln.bake(threeLayers(deps, app, conf));

    assertThat(events.provisioned()).containsExactlyInAnyOrder("app", "conf");
    assertThat(second.layers().get(0).diffId()).isEqualTo(first.layers().get(0).diffId());
    assertThat(second.layers().get(1).diffId()).isNotEqualTo(first.layers().get(1).diffId());
    // the conf layer's content is the same, only its key (which chains its parent's) changed
    assertThat(second.layers().get(2).key()).isNotEqualTo(first.layers().get(2).key());
    assertThat(second.layers().get(2).diffId()).isEqualTo(first.layers().get(2).diffId());
    assertThat(second.digest()).isNotEqualTo(first.digest());
  }

  @Test
  void touchingMtimesOrRecreatingFilesInAnotherOrderChangesNothing() throws Exception {
    Path app = tree("app", "a", "1", "b/c", "2", "b/d", "3");
    ImageBuild build = ImageBuild.from(Base.scratch()).layer(Layer.files("app").add(app, "/app"));
    BakeResult first = kiln.bake(build);

    try (Stream<Path> s = Files.walk(app)) {
      for (Path p : s.toList()) {
        Files.setLastModifiedTime(p, FileTime.fromMillis(1_000_000_000_000L));
      }
    }
    events.clear();
    assertThat(kiln.bake(build).digest()).isEqualTo(first.digest());
    assertThat(events.provisioned()).isEmpty();

    // same content, created in reverse order: other inodes, other directory order
    deleteTree(app);
    Files.createDirectories(app.resolve("b"));
    Files.writeString(app.resolve("b/d"), "3");
    Files.writeString(app.resolve("b/c"), "2");
    Files.writeString(app.resolve("a"), "1");
    events.clear();
    assertThat(kiln.bake(build).digest()).isEqualTo(first.digest());
    assertThat(events.provisioned()).isEmpty();
  }

  @Test
  void buildsThatShareAPrefixProvisionItOnce() throws Exception {
    Path deps = tree("deps", "big.jar", "x".repeat(100_000));
    ImageBuild base =
        ImageBuild.from(Base.scratch()).layer(Layer.files("deps").add(deps, "/opt/deps"));
    ImageBuild web = base.layer(Layer.files("web").content("/opt/web", "web".getBytes(), 0644));
    ImageBuild worker =
        base.layer(Layer.files("worker").content("/opt/worker", "worker".getBytes(), 0644));
    // an equal but separately built definition shares by cache key, too
    ImageBuild again =
        ImageBuild.from(Base.scratch()).layer(Layer.files("deps").add(deps, "/opt/deps"));

    List<BakeResult> rs = kiln.bakeAll(web, worker, again);

    assertThat(events.provisioned()).containsExactlyInAnyOrder("deps", "web", "worker");
    assertThat(rs.get(0).layers().get(0)).isEqualTo(rs.get(1).layers().get(0));
    assertThat(rs.get(2).layers()).containsExactly(rs.get(0).layers().get(0));
  }

  @Test
  void baseOfABuildReusesItsLayersAndConfig() throws Exception {
    ImageBuild base =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("os").content("/etc/os-release", "ID=test\n".getBytes(), 0644))
            .config(c -> c.env("A", "1").cmd("/bin/sh"));
    BakeResult b = kiln.bake(base);
    events.clear();
    BakeResult app =
        kiln.bake(
            ImageBuild.from(Base.of(base))
                .layer(Layer.files("app").content("/app", "x".getBytes(), 0755))
                .config(c -> c.env("B", "2")));
    assertThat(events.provisioned()).containsExactly("app");
    assertThat(app.layers().get(0)).isEqualTo(b.layers().get(0));
    String config =
        new String(
            Files.readAllBytes(storeDir.resolve("blobs/sha256/" + app.configDigest().hex())),
            StandardCharsets.UTF_8);
    assertThat(config).contains("\"Env\":[\"A=1\",\"B=2\"]").contains("\"Cmd\":[\"/bin/sh\"]");
  }

  @Test
  void storeIsAnOciLayoutWithRecordsAndKeys() throws Exception {
    BakeResult r =
        kiln.bake(
            ImageBuild.from(Base.scratch())
                .layer(Layer.files("a").content("/a", "a".getBytes(), 0644)));
    assertThat(storeDir.resolve("oci-layout")).exists();
    assertThat(Files.readString(storeDir.resolve("index.json"))).contains(r.digest().toString());
    assertThat(r.record()).exists();
    String record = Files.readString(r.record());
    assertThat(record)
        .contains(r.digest().toString(), r.layers().get(0).key().toString(), "\"/a\"");
    assertThat(Digest.of(Files.readAllBytes(storeDir.resolve("blobs/sha256/" + r.digest().hex()))))
        .isEqualTo(r.digest());
  }

  @Test
  void corruptBlobIsDetectedReportedAndReprovisioned() throws Exception {
    Path app = tree("app", "f", "content ".repeat(1000));
    ImageBuild build = ImageBuild.from(Base.scratch()).layer(Layer.files("app").add(app, "/app"));
    BakeResult first = kiln.bake(build, "oci-archive:" + tmp.resolve("one.tar"));
    Path blob = storeDir.resolve("blobs/sha256/" + first.layers().get(0).digest().hex());
    byte[] bytes = Files.readAllBytes(blob);
    bytes[bytes.length / 2] ^= 0x55; // same size: only the content check can tell
    Files.write(blob, bytes);

    events.clear();
    BakeResult second = kiln.bake(build, "oci-archive:" + tmp.resolve("two.tar"));

    assertThat(events.of(BakeEvent.CacheCorrupted.class)).hasSize(1);
    assertThat(events.provisioned()).containsExactly("app");
    assertThat(second.digest()).isEqualTo(first.digest());
    assertThat(Digest.of(Files.readAllBytes(blob))).isEqualTo(first.layers().get(0).digest());
    assertThat(Files.readAllBytes(tmp.resolve("two.tar")))
        .isEqualTo(Files.readAllBytes(tmp.resolve("one.tar")));
  }

  @Test
  void republishingToTheSameArchiveTransfersNothing() throws Exception {
    Path out = tmp.resolve("img.tar");
    ImageBuild build =
        ImageBuild.from(Base.scratch()).layer(Layer.files("a").content("/a", "a".getBytes(), 0644));
    assertThat(
            kiln.bake(build, "oci-archive:" + out).published().get("oci-archive:" + out).reused())
        .isFalse();
    FileTime written = Files.getLastModifiedTime(out);
    assertThat(
            kiln.bake(build, "oci-archive:" + out).published().get("oci-archive:" + out).reused())
        .isTrue();
    assertThat(Files.getLastModifiedTime(out)).isEqualTo(written);
  }

  // ---- bad input: a clear error, nothing published ----

  private Set<String> published() throws IOException {
    try (Stream<Path> s =
        Stream.concat(
            Files.list(storeDir.resolve("blobs/sha256")), Files.list(storeDir.resolve("keys")))) {
      return s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
    }
  }

  @Test
  void missingSourceFile() throws Exception {
    Set<String> before = published();
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("app").add(tmp.resolve("nope.jar"), "/app.jar"));
    assertThatThrownBy(() -> kiln.bake(build, "oci-archive:" + tmp.resolve("x.tar")))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining("nope.jar")
        .hasMessageContaining("does not exist");
    assertThat(published()).isEqualTo(before);
    assertThat(tmp.resolve("x.tar")).doesNotExist();
  }

  @Test
  void targetPathsMustBeAbsoluteWithoutDotDot() {
    assertThatThrownBy(() -> Layer.files("x").add(tmp, "/opt/../../etc"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("..");
    assertThatThrownBy(() -> Layer.files("x").add(tmp, "opt/app"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("absolute");
    assertThatThrownBy(() -> Layer.files("x").content("/a/..", new byte[0], 0644))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void unknownTargetSchemeListsTheSchemesFound() throws Exception {
    Set<String> before = published();
    ImageBuild build =
        ImageBuild.from(Base.scratch()).layer(Layer.files("a").content("/a", "a".getBytes(), 0644));
    assertThatThrownBy(() -> kiln.bake(build, "floppy:/dev/fd0"))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("floppy")
        .hasMessageContaining("oci-archive")
        .hasMessageContaining("docker-archive");
    assertThatThrownBy(() -> kiln.bake(build, "ec2://eu-west-1/web"))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("kiln-provider-ec2");
    assertThatThrownBy(() -> kiln.bake(build, "no-scheme-here"))
        .isInstanceOf(InvalidTargetException.class);
    assertThat(published()).isEqualTo(before);
  }

  @Test
  void missingProvisionerNamesTheModule() {
    Layer run =
        new Layer() {
          @Override
          public String kind() {
            return "run";
          }

          @Override
          public String name() {
            return "install";
          }
        };
    assertThatThrownBy(() -> kiln.bake(ImageBuild.from(Base.scratch()).layer(run)))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining("no provisioner for layer kind 'run'")
        .hasMessageContaining("dev.kiln:kiln-provider-docker")
        .hasMessageContaining("files");
  }

  @Test
  void unreadableFile() throws Exception {
    Set<String> before = published();
    // /proc/self/mem is a regular file that no one, not even root, can read from offset 0
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("app").add(Path.of("/proc/self/mem"), "/mem"));
    assertThatThrownBy(() -> kiln.bake(build))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining("layer 'app'")
        .hasMessageContaining("cannot read");
    assertThat(published()).isEqualTo(before);
  }

  @Test
  void aSpecialFileDeepInATreeIsReportedFirstInCanonicalOrder() throws Exception {
    Set<String> before = published();
    Path src = tmp.resolve("tree-with-fifos");
    // enough files around the pipes that the level's stat calls run on several threads
    for (String dir : List.of("a/x", "a/y", "b")) {
      Files.createDirectories(src.resolve(dir));
      for (int i = 0; i < 300; i++) {
        Files.writeString(src.resolve(dir).resolve("f" + i), dir + i);
      }
    }
    for (String fifo : List.of("a/y/p2", "a/x/p1", "b/p3")) {
      Process p = new ProcessBuilder("mkfifo", src.resolve(fifo).toString()).inheritIO().start();
      assertThat(p.waitFor()).isZero();
    }
    ImageBuild build = ImageBuild.from(Base.scratch()).layer(Layer.files("app").add(src, "/app"));
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> kiln.bake(build))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining("layer 'app'")
          .hasMessageContaining("a/x/p1")
          .hasMessageContaining("special file");
    }
    assertThat(published()).isEqualTo(before);
  }

  @Test
  void tarEntryWithDotDotIsRejected() throws Exception {
    Path tar = tmp.resolve("evil.tar");
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(Files.newOutputStream(tar))) {
      file(t, "etc/ok", "ok");
      file(t, "../../etc/passwd", "root::0:0::/:/bin/sh");
    }
    assertRejected(Base.rootfs(tar), "../../etc/passwd");
  }

  @Test
  void writeThroughSymlinkPointingOutsideIsRejected() throws Exception {
    Path tar = tmp.resolve("evil.tar.gz");
    try (OutputStream os = new GZIPOutputStream(Files.newOutputStream(tar));
        TarArchiveOutputStream t = new TarArchiveOutputStream(os)) {
      TarArchiveEntry l = new TarArchiveEntry("escape", TarArchiveEntry.LF_SYMLINK);
      l.setLinkName("../../../../etc");
      t.putArchiveEntry(l);
      t.closeArchiveEntry();
      file(t, "escape/cron.d/evil", "* * * * * root rm -rf /");
    }
    assertRejected(Base.rootfs(tar), "escape");
  }

  @Test
  void truncatedAndNonTarRootfsAreRejected() throws Exception {
    Path good = tmp.resolve("good.tar");
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(Files.newOutputStream(good))) {
      file(t, "big", "y".repeat(100_000));
    }
    byte[] all = Files.readAllBytes(good);
    Path truncated =
        Files.write(tmp.resolve("truncated.tar"), java.util.Arrays.copyOf(all, 50_000));
    assertRejected(Base.rootfs(truncated), "truncated");
    Path notTar =
        Files.writeString(
            tmp.resolve("not.tar"), "this is not a tar archive, just text. ".repeat(50));
    assertRejected(Base.rootfs(notTar), "not.tar");
    assertRejected(Base.rootfs(tmp.resolve("missing.tar")), "does not exist");
  }

  private void assertRejected(Base base, String mention) throws IOException {
    Set<String> before = published();
    assertThatThrownBy(
            () -> kiln.bake(ImageBuild.from(base), "oci-archive:" + tmp.resolve("out.tar")))
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining(mention);
    assertThat(published()).isEqualTo(before);
    assertThat(tmp.resolve("out.tar")).doesNotExist();
  }

  private static void file(TarArchiveOutputStream t, String name, String content)
      throws IOException {
    byte[] b = content.getBytes(StandardCharsets.UTF_8);
    TarArchiveEntry e = new TarArchiveEntry(name, true);
    e.setSize(b.length);
    e.setMode(0100644);
    t.putArchiveEntry(e);
    t.write(b);
    t.closeArchiveEntry();
  }

  static void deleteTree(Path p) throws IOException {
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
    }
  }
}
