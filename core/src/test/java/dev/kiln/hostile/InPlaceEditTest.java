package dev.kiln.hostile;

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
import dev.kiln.internal.provision.FilesProvisioner;
import dev.kiln.internal.provision.TarProvisioner;
import dev.kiln.internal.tar.CanonicalLayerWriter;
import dev.kiln.spi.FileDigests;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.spi.LayerWriter;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.testing.StaleStatIndex;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An input edited in place, at every stage of a bake, must never leave a layer under a key computed
 * from other bytes: before it is hashed (an edit the stat index or the watcher cannot see), between
 * hashing and writing (an editor saving while the layer starts) and while the layer writer copies
 * it. Each bake either stores the bytes its key was computed from or fails naming the file, storing
 * nothing; the next bake after the file is put back gives the layer a fresh store gives. For files
 * layers, root file system directories and tarballs, and tar layers.
 */
class InPlaceEditTest {
  private static final byte[] SAFE = "mode=SAFE\n".getBytes(UTF_8);
  private static final byte[] EVIL = "mode=EVIL\n".getBytes(UTF_8);

  @TempDir Path tmp;

  /** What a listener does on the next {@code LayerStarted}; cleared once done. */
  private final AtomicReference<IORunnable> onLayerStarted = new AtomicReference<>();

  private interface IORunnable {
    void run() throws IOException;
  }

  private Kiln kiln(String store, boolean watch) throws IOException {
    return Kiln.builder()
        .store(tmp.resolve(store))
        .watchFileSystem(watch)
        .listener(
            e -> {
              IORunnable r =
                  e instanceof BakeEvent.LayerStarted ? onLayerStarted.getAndSet(null) : null;
              if (r != null) {
                try {
                  r.run();
                } catch (IOException ex) {
                  throw new java.io.UncheckedIOException(ex);
                }
              }
            })
        .build();
  }

  // ---- files layers ----

  @Test
  void aFileEditedBetweenHashingAndWritingIsNeverStoredUnderTheOldKey() throws Exception {
    Path conf = Files.write(Files.createDirectories(tmp.resolve("src")).resolve("app.conf"), SAFE);
    ImageBuild build =
        ImageBuild.from(Base.scratch()).layer(Layer.files("app").add(conf, "/etc/app.conf"));
    try (Kiln k = kiln("store", false)) {
      onLayerStarted.set(() -> Files.write(conf, EVIL));
      checkBakeThenRestore(k, build, conf, "etc/app.conf", tmp.resolve("store"));
    }
  }

  @Test
  void aFileEditedBetweenHashingAndWritingInAKilnKeptOpen() throws Exception {
    Path src = Files.createDirectories(tmp.resolve("src"));
    Path conf = Files.write(src.resolve("app.conf"), "mode=WARM\n".getBytes(UTF_8));
    ImageBuild build =
        ImageBuild.from(Base.scratch()).layer(Layer.files("app").add(src, "/etc/app"));
    try (Kiln k = kiln("store", true)) {
      k.bake(build);
      k.bake(build); // the second bake watches the tree and keeps its walk
      Files.write(conf, SAFE);
      onLayerStarted.set(() -> Files.write(conf, EVIL));
      checkBakeThenRestore(k, build, conf, "etc/app/app.conf", tmp.resolve("store"));
      // and the Kiln kept open goes on answering from its watch once the tree is settled
      assertThat(read(k.bake(build), "etc/app/app.conf")).isEqualTo(SAFE);
    }
  }

  @Test
  void aRootfsDirectoryEditedBetweenHashingAndWriting() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("rootfs/etc"));
    Path conf = Files.write(root.resolve("app.conf"), SAFE);
    ImageBuild build = ImageBuild.from(Base.rootfs(tmp.resolve("rootfs")));
    try (Kiln k = kiln("store", false)) {
      onLayerStarted.set(() -> Files.write(conf, EVIL));
      checkBakeThenRestore(k, build, conf, "etc/app.conf", tmp.resolve("store"));
    }
  }

  /**
   * Before hashing: the stat index has the file's current stat with the digest of what it held
   * before (an edit in the same timestamp tick as its hashing, or on a file system whose times are
   * coarse). The key then says SAFE while the file holds EVIL: the writer must notice, and the stat
   * index must forget the file.
   */
  @Test
  void aStaleStatIndexEntryIsCaughtByTheWriterAndForgotten() throws Exception {
    Path conf = Files.write(Files.createDirectories(tmp.resolve("src")).resolve("app.conf"), EVIL);
    Path store = tmp.resolve("store");
    kiln("store", false).close(); // the store exists; the index is written before a Kiln loads it
    StaleStatIndex.write(store, conf, sha256(SAFE));
    ImageBuild build =
        ImageBuild.from(Base.scratch()).layer(Layer.files("app").add(conf, "/etc/app.conf"));
    try (Kiln k = kiln("store", false)) {
      Throwable t = catchThrowable(() -> k.bake(build));
      if (t == null) {
        throw new AssertionError(
            "the bake stored the file's EVIL content under the key of SAFE content");
      }
      assertThat(t).isInstanceOf(ProvisioningException.class).hasMessageContaining(conf.toString());
      assertNothingStored(store);
      assertThat(Files.readString(store.resolve("stat/index"))).doesNotContain(conf.toString());
      // the next bake reads the file again
      BakeResult again = k.bake(build);
      assertThat(read(again, "etc/app.conf")).isEqualTo(EVIL);
      assertThat(again.key()).isEqualTo(freshBake(build).key());
    }
  }

  /**
   * Before hashing, in a Kiln kept open: the file is changed through a hard link from outside the
   * watched tree (which no inotify watch reports), then the layer is needed under a key not yet
   * stored. The watched walk's digests are stale; the writer must not store the new bytes under
   * them.
   */
  @Test
  void anEditTheWatcherCannotSeeIsCaughtByTheWriter() throws Exception {
    Path src = Files.createDirectories(tmp.resolve("src"));
    Path conf = Files.write(src.resolve("app.conf"), SAFE);
    Path outside =
        Files.createLink(Files.createDirectories(tmp.resolve("outside")).resolve("link"), conf);
    Layer app = Layer.files("app").add(src, "/etc/app");
    ImageBuild one = ImageBuild.from(Base.scratch()).layer(app);
    ImageBuild two =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("below").content("/below", SAFE, 0644))
            .layer(app);
    try (Kiln k = kiln("store", true)) {
      k.bake(one);
      k.bake(one); // watched from now on
      Files.write(outside, EVIL);
      Throwable t = catchThrowable(() -> k.bake(two));
      if (t == null) {
        BakeResult r = k.bake(two);
        assertThat(read(r, "etc/app/app.conf"))
            .as("the layer holds what its key was computed from")
            .isEqualTo(Files.readAllBytes(conf));
        assertThat(r.key()).isEqualTo(freshBake(two).key());
      } else {
        assertThat(t)
            .isInstanceOf(ProvisioningException.class)
            .hasMessageContaining(conf.toString());
      }
      // the walk that turned out stale is not trusted again
      BakeResult r = k.bake(two);
      assertThat(read(r, "etc/app/app.conf")).isEqualTo(EVIL);
      assertThat(r.key()).isEqualTo(freshBake(two).key());
    }
  }

  /**
   * While writing: a part of the file is rewritten (same size) once the writer has copied its first
   * MiB.
   */
  @Test
  void aFileRewrittenWhileTheWriterCopiesItFailsTheLayer() throws Exception {
    byte[] big = new byte[3 << 20];
    new Random(7).nextBytes(big);
    Path file = Files.write(Files.createDirectories(tmp.resolve("src")).resolve("big.bin"), big);
    PreparedLayer prepared =
        new FilesProvisioner().prepare(Layer.files("big").add(file, "/big.bin"), new Context());
    AtomicBoolean edited = new AtomicBoolean();
    Executor editing =
        task -> {
          // the first gzip chunk is handed over once the writer has read 1 MiB of the file: the
          // rest changes under it
          if (edited.compareAndSet(false, true)) {
            overwrite(file, 2 << 20, 4096);
          }
          task.run();
        };
    Context pc = new Context(editing);
    Throwable t = catchThrowable(() -> pc.blob = prepared.provision(pc));
    assertThat(edited).isTrue();
    assertThat(t)
        .as("a layer written from bytes other than the hashed ones")
        .isNotNull()
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining(file.toString());
  }

  // ---- tarballs: root file systems and tar layers ----

  @Test
  void aRootfsTarballEditedBetweenHashingAndWriting() throws Exception {
    Path tarball = tarball(tmp.resolve("rootfs.tar"), Map.of("etc/app.conf", SAFE));
    ImageBuild build = ImageBuild.from(Base.rootfs(tarball));
    try (Kiln k = kiln("store", false)) {
      onLayerStarted.set(() -> tarball(tarball, Map.of("etc/app.conf", EVIL)));
      Throwable t = catchThrowable(() -> k.bake(build));
      assertThat(t)
          .as("the bake stored EVIL content under the key of SAFE content")
          .isNotNull()
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining(tarball.toString());
      assertNothingStored(tmp.resolve("store"));
      tarball(tarball, Map.of("etc/app.conf", SAFE));
      BakeResult r = k.bake(build);
      assertThat(read(r, "etc/app.conf")).isEqualTo(SAFE);
      assertThat(r.digest()).isEqualTo(freshBake(build).digest());
    }
  }

  @Test
  void aTarLayerWithAStaleStatIndexEntry() throws Exception {
    Path tarball = tarball(tmp.resolve("layer.tar"), Map.of("etc/app.conf", EVIL));
    Path safe = tarball(tmp.resolve("safe.tar"), Map.of("etc/app.conf", SAFE));
    Path store = tmp.resolve("store");
    kiln("store", false).close(); // the store exists
    StaleStatIndex.write(store, tarball, sha256(Files.readAllBytes(safe)));
    ImageBuild build = ImageBuild.from(Base.scratch()).layer(Layer.tar(tarball));
    try (Kiln k = kiln("store", false)) {
      Throwable t = catchThrowable(() -> k.bake(build));
      assertThat(t)
          .as("the bake stored EVIL content under the key of SAFE content")
          .isNotNull()
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining(tarball.toString());
      assertNothingStored(store);
      BakeResult again = k.bake(build);
      assertThat(read(again, "etc/app.conf")).isEqualTo(EVIL);
      assertThat(again.key()).isEqualTo(freshBake(build).key());
    }
  }

  /**
   * While writing: a later entry's bytes change after the reader has handed the first entry to the
   * writer.
   */
  @Test
  void aTarballRewrittenWhileItIsReadFailsTheLayer() throws Exception {
    byte[] big = new byte[1 << 20];
    new Random(9).nextBytes(big);
    Path tarball = tarball(tmp.resolve("layer.tar"), Map.of("a/small", SAFE, "z/big", big));
    PreparedLayer prepared = new TarProvisioner().prepare(Layer.tar(tarball), new Context());
    AtomicBoolean edited = new AtomicBoolean();
    Context pc =
        new Context() {
          @Override
          public LayerWriter newLayerWriter() throws IOException {
            LayerWriter w = super.newLayerWriter();
            return new LayerWriter() {
              @Override
              public void add(LayerEntry entry) throws IOException {
                w.add(entry);
              }

              @Override
              public void add(LayerEntry entry, InputStream content) throws IOException {
                w.add(entry, content);
                if (edited.compareAndSet(false, true)) {
                  overwrite(
                      tarball, 512 << 10,
                      4096); // inside z/big, well past what the reader has buffered
                }
              }

              @Override
              public LayerBlob finish() throws IOException {
                return w.finish();
              }

              @Override
              public void close() throws IOException {
                w.close();
              }
            };
          }
        };
    Throwable t = catchThrowable(() -> prepared.provision(pc));
    assertThat(edited).isTrue();
    assertThat(t)
        .as("a layer written from bytes other than the hashed ones")
        .isNotNull()
        .isInstanceOf(ProvisioningException.class)
        .hasMessageContaining(tarball.toString());
  }

  // ---- helpers ----

  /**
   * Bakes (the listener edits the file to EVIL), then puts SAFE back and bakes again into the same
   * store: the first bake fails naming the file and stores nothing, or stores what its key says;
   * the second holds SAFE, as a fresh store does.
   */
  private void checkBakeThenRestore(Kiln k, ImageBuild build, Path file, String entry, Path store)
      throws Exception {
    List<Path> before = stored(store);
    BakeResult first = null;
    Throwable t = null;
    try {
      first = k.bake(build);
    } catch (ProvisioningException e) {
      t = e;
    }
    assertThat(onLayerStarted.get()).as("the edit was made").isNull();
    if (first != null) {
      assertThat(first.key())
          .as("the key of the layer holding %s", new String(read(first, entry), UTF_8))
          .isEqualTo(freshBake(build).key());
    } else {
      assertThat(t).hasMessageContaining(file.toString()).hasMessageContaining("changed");
      assertThat(stored(store)).as("keys and blobs in the store").isEqualTo(before);
      assertThat(Files.readString(store.resolve("stat/index"))).doesNotContain(file.toString());
    }
    Files.write(file, SAFE);
    BakeResult again = k.bake(build);
    assertThat(new String(read(again, entry), UTF_8)).isEqualTo(new String(SAFE, UTF_8));
    assertThat(again.digest()).isEqualTo(freshBake(build).digest());
  }

  private int fresh;

  /**
   * The result of baking the build as its inputs are now, in a store of its own and a Kiln that
   * does not watch.
   */
  private BakeResult freshBake(ImageBuild build) throws Exception {
    try (Kiln k =
        Kiln.builder().store(tmp.resolve("fresh-" + fresh++)).watchFileSystem(false).build()) {
      return k.bake(build);
    }
  }

  private static void assertNothingStored(Path store) throws IOException {
    assertThat(stored(store)).as("keys and blobs in the store").isEmpty();
  }

  /** The cache keys and blobs in a store. */
  private static List<Path> stored(Path store) throws IOException {
    List<Path> all = new ArrayList<>();
    for (String dir : List.of("keys", "blobs/sha256")) {
      if (Files.isDirectory(store.resolve(dir))) {
        try (Stream<Path> s = Files.list(store.resolve(dir))) {
          s.sorted().forEach(all::add);
        }
      }
    }
    return all;
  }

  /** The content of an entry of the result's layers, the topmost holding it. */
  private byte[] read(BakeResult r, String path) throws IOException {
    Path store = r.record().getParent().getParent();
    byte[] found = null;
    for (LayerRecord l : r.layers()) {
      try (LayerReader reader =
          LayerReader.open(store.resolve("blobs/sha256").resolve(l.digest().hex()))) {
        LayerEntry e;
        while ((e = reader.next()) != null) {
          if (e.path().equals(path) && e.type() == LayerEntry.Type.FILE) {
            try (InputStream in = e.content().open()) {
              found = in.readAllBytes();
            }
          }
        }
      }
    }
    assertThat(found).as("entry %s in the image", path).isNotNull();
    return found;
  }

  /** Flips {@code length} bytes of the file at {@code offset}, in place: same inode, same size. */
  private static void overwrite(Path file, long offset, int length) {
    try (FileChannel ch =
        FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(length);
      ch.read(b, offset);
      b.flip();
      for (int i = 0; i < b.limit(); i++) {
        b.put(i, (byte) ~b.get(i));
      }
      ch.write(b, offset);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Writes a tarball in place (same inode) with the given files, in path order. */
  static Path tarball(Path file, Map<String, byte[]> files) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      for (String name : new java.util.TreeSet<>(files.keySet())) {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(files.get(name).length);
        e.setMode(0644);
        tar.putArchiveEntry(e);
        tar.write(files.get(name));
        tar.closeArchiveEntry();
      }
    }
    try (OutputStream out =
        Files.newOutputStream(file)) { // truncates in place, as an editor saving does
      bytes.writeTo(out);
    }
    return file;
  }

  static Digest sha256(byte[] b) {
    try {
      return Digest.fromBytes(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Just enough of a bake's context to prepare and provision a layer outside a Kiln. */
  private class Context implements ProvisionContext {
    private final Executor compressors;
    LayerBlob blob;

    Context() {
      this(Runnable::run);
    }

    Context(Executor compressors) {
      this.compressors = compressors;
    }

    @Override
    public FileDigests files() {
      return file -> sha256(Files.readAllBytes(file));
    }

    @Override
    public void emit(BakeEvent event) {}

    @Override
    public Path newTempDirectory() throws IOException {
      return Files.createTempDirectory(tmp, "t");
    }

    @Override
    public LayerWriter newLayerWriter() throws IOException {
      return new CanonicalLayerWriter(newTempDirectory(), 1, 6, compressors);
    }

    @Override
    public ImageView parent() {
      throw new IllegalStateException();
    }

    @Override
    public Executor executor() {
      return Runnable::run;
    }
  }
}
