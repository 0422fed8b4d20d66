package dev.kiln.internal.tar;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.internal.tar.TarTestSupport.CompressorPool;
import dev.kiln.internal.tar.TarTestSupport.Snap;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class LayerFlattenerTest {
  @RegisterExtension static final CompressorPool compressors = new CompressorPool(2);

  @TempDir Path tmp;
  private int counter;

  private Path layer(LayerEntry... entries) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("blobs"));
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(dir, 1, 1, compressors.executor())) {
      for (LayerEntry e : entries) {
        w.add(e);
      }
      return Files.move(w.finish().file(), tmp.resolve("layer" + (counter++) + ".tar.gz"));
    }
  }

  /**
   * A layer exactly as written here, without the writer's canonical touches (explicit parents,
   * sorting).
   */
  private Path rawLayer(RawEntry... entries) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    TarWriter w = new TarWriter(buf, 1);
    for (RawEntry e : entries) {
      byte[] content = e.content.getBytes(UTF_8);
      w.writeHeader(e.name, e.type, e.mode, 0, 0, content.length, e.link, 0, 0, Map.of());
      buf.writeBytes(content);
      w.pad(content.length);
    }
    w.finish();
    return Files.write(tmp.resolve("raw" + (counter++) + ".tar"), buf.toByteArray());
  }

  private record RawEntry(String name, char type, int mode, String link, String content) {
    static RawEntry file(String name, String content) {
      return new RawEntry(name, TarWriter.REGULAR, 0644, "", content);
    }

    static RawEntry hardlink(String name, String target) {
      return new RawEntry(name, TarWriter.HARDLINK, 0644, target, "");
    }
  }

  private static byte[] text(String s) {
    return s.getBytes(UTF_8);
  }

  private static List<String> describe(List<LayerEntry> entries) throws IOException {
    List<String> out = new ArrayList<>();
    for (LayerEntry e : entries) {
      out.add(Snap.of(e).toString());
    }
    return out;
  }

  @Test
  void flattensThreeLayersWithWhiteoutsOpaqueDirectoriesAndReplacements() throws IOException {
    Path base =
        layer(
            LayerEntry.file("etc/passwd", 0644, text("root")),
            LayerEntry.file("etc/conf.d/a", 0644, text("A")),
            LayerEntry.file("etc/conf.d/b", 0644, text("B")),
            LayerEntry.file("opt/app/bin", 0755, text("v1")),
            LayerEntry.file("opt/app/lib/x", 0644, text("X")),
            LayerEntry.file("var/log/old", 0644, text("o")),
            LayerEntry.file("data", 0644, text("was a file")),
            LayerEntry.file("cache/item", 0644, text("I")),
            LayerEntry.file("usr/lib/libc.so", 0755, text("libc")),
            LayerEntry.symlink("lib", "usr/lib"),
            LayerEntry.file("s/a", 0600, text("inode")),
            LayerEntry.hardlink("s/b", "s/a"),
            LayerEntry.file("keep/hl-target", 0644, text("T")),
            LayerEntry.hardlink("keep/hl", "keep/hl-target"));
    Path middle =
        layer(
            LayerEntry.whiteout("etc/conf.d/a"),
            LayerEntry.opaqueWhiteout("opt/app"),
            LayerEntry.file("opt/app/bin", 0755, text("v2")),
            LayerEntry.directory("data", 0700),
            LayerEntry.file("data/inner", 0644, text("in")),
            LayerEntry.file("cache", 0644, text("now a file")),
            LayerEntry.whiteout("s/a"));
    Path top =
        layer(
            LayerEntry.opaqueWhiteout("etc"),
            LayerEntry.file("etc/hostname", 0644, text("h")),
            LayerEntry.directory("var/log", 0750).owner(5, 0),
            LayerEntry.symlink("data", "/srv"),
            LayerEntry.hardlink("opt/app/bin2", "opt/app/bin"));

    LayerFlattener flat = LayerFlattener.flatten(List.of(base, middle, top));

    assertThat(describe(flat.entries()))
        .containsExactly(
            "FILE cache 644 0:0 size=10 'now a file'",
            "SYMLINK data 777 0:0 size=0 -> /srv",
            "DIRECTORY etc 755 0:0 size=0",
            "FILE etc/hostname 644 0:0 size=1 'h'",
            "DIRECTORY keep 755 0:0 size=0",
            "FILE keep/hl 644 0:0 size=1 'T'",
            "HARDLINK keep/hl-target 644 0:0 size=0 -> keep/hl",
            "SYMLINK lib 777 0:0 size=0 -> usr/lib",
            "DIRECTORY opt 755 0:0 size=0",
            "DIRECTORY opt/app 755 0:0 size=0",
            "FILE opt/app/bin 755 0:0 size=2 'v2'",
            "HARDLINK opt/app/bin2 755 0:0 size=0 -> opt/app/bin",
            "DIRECTORY s 755 0:0 size=0",
            "FILE s/b 600 0:0 size=5 'inode'",
            "DIRECTORY usr 755 0:0 size=0",
            "DIRECTORY usr/lib 755 0:0 size=0",
            "FILE usr/lib/libc.so 755 0:0 size=4 'libc'",
            "DIRECTORY var 755 0:0 size=0",
            "DIRECTORY var/log 750 5:0 size=0",
            "FILE var/log/old 644 0:0 size=1 'o'");

    List<String> visited = new ArrayList<>();
    flat.forEach(e -> visited.add(Snap.of(e).toString()));
    assertThat(visited)
        .containsExactly(
            // directories, parents first
            "DIRECTORY etc 755 0:0 size=0",
            "DIRECTORY keep 755 0:0 size=0",
            "DIRECTORY opt 755 0:0 size=0",
            "DIRECTORY opt/app 755 0:0 size=0",
            "DIRECTORY s 755 0:0 size=0",
            "DIRECTORY usr 755 0:0 size=0",
            "DIRECTORY usr/lib 755 0:0 size=0",
            "DIRECTORY var 755 0:0 size=0",
            "DIRECTORY var/log 750 5:0 size=0",
            // files of the base layer, in its archive order, under their final paths
            "FILE keep/hl 644 0:0 size=1 'T'",
            "FILE s/b 600 0:0 size=5 'inode'",
            "FILE usr/lib/libc.so 755 0:0 size=4 'libc'",
            "FILE var/log/old 644 0:0 size=1 'o'",
            // then the middle layer's, then the top one's
            "FILE cache 644 0:0 size=10 'now a file'",
            "FILE opt/app/bin 755 0:0 size=2 'v2'",
            "FILE etc/hostname 644 0:0 size=1 'h'",
            // symlinks and other special files, then hard links, whose targets all exist by now
            "SYMLINK data 777 0:0 size=0 -> /srv",
            "SYMLINK lib 777 0:0 size=0 -> usr/lib",
            "HARDLINK keep/hl-target 644 0:0 size=0 -> keep/hl",
            "HARDLINK opt/app/bin2 755 0:0 size=0 -> opt/app/bin");
  }

  @Test
  void followsSymlinksOfLowerLayersInsideTheRoot() throws IOException {
    Path base =
        layer(
            LayerEntry.directory("usr/lib", 0755),
            LayerEntry.symlink("lib", "usr/lib"),
            LayerEntry.symlink("lib64", "/usr/lib"),
            LayerEntry.symlink("usr/up", "../../../../usr"));
    Path files =
        rawLayer(
            RawEntry.file("lib/a.so", "a"),
            RawEntry.file("lib64/b.so", "b"),
            RawEntry.file("usr/up/lib/c.so", "c"),
            RawEntry.file("lib/sub/d.so", "d"));
    Path deletes = rawLayer(RawEntry.file("lib64/.wh.a.so", ""));
    LayerFlattener flat = LayerFlattener.flatten(List.of(base, files, deletes));
    assertThat(TarTestSupport.paths(snaps(flat.entries())))
        .containsExactly(
            "lib",
            "lib64",
            "usr",
            "usr/lib",
            "usr/lib/b.so",
            "usr/lib/c.so",
            "usr/lib/sub",
            "usr/lib/sub/d.so",
            "usr/up");
  }

  @Test
  void aFileReplacesADirectoryTreeAndADirectoryAFile() throws IOException {
    Path base =
        layer(
            LayerEntry.file("t/a/b/c", 0644, text("deep")),
            LayerEntry.file("f", 0644, text("file")));
    Path next =
        rawLayer(RawEntry.file("t", "flat now"), RawEntry.file("f/child", "under a former file"));
    LayerFlattener flat = LayerFlattener.flatten(List.of(base, next));
    assertThat(describe(flat.entries()))
        .containsExactly(
            "DIRECTORY f 755 0:0 size=0",
            "FILE f/child 644 0:0 size=19 'under a former file'",
            "FILE t 644 0:0 size=8 'flat now'");
  }

  @Test
  void whiteoutsApplyToLowerLayersOnlyWhereverTheyStandInTheTarball() throws IOException {
    Path base =
        layer(LayerEntry.file("d/x", 0644, text("old")), LayerEntry.file("d/y", 0644, text("old")));
    // The file comes before its whiteout in this tarball; the whiteout must not delete it.
    Path next =
        rawLayer(
            RawEntry.file("d/x", "new"),
            RawEntry.file("d/.wh.x", ""),
            RawEntry.file("d/z", "new"),
            RawEntry.file("d/.wh..wh..opq", ""));
    assertThat(describe(LayerFlattener.flatten(List.of(base, next)).entries()))
        .containsExactly(
            "DIRECTORY d 755 0:0 size=0",
            "FILE d/x 644 0:0 size=3 'new'",
            "FILE d/z 644 0:0 size=3 'new'");
  }

  @Test
  void entriesCanOpenContentOnTheirOwn() throws IOException {
    Path base =
        layer(
            LayerEntry.file("a", 0644, text("first")), LayerEntry.file("b", 0644, text("second")));
    List<LayerEntry> entries = LayerFlattener.flatten(List.of(base)).entries();
    try (InputStream in = entries.get(1).content().open()) {
      assertThat(new String(in.readAllBytes(), UTF_8)).isEqualTo("second");
    }
  }

  @Test
  void reportsHardLinksToNothingAndSymlinkLoops() throws IOException {
    Path dangling = rawLayer(RawEntry.hardlink("h", "missing"));
    assertThatThrownBy(() -> LayerFlattener.flatten(List.of(dangling)))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("hard link 'h' -> 'missing'")
        .hasMessageContaining("does not exist");
    Path loop = layer(LayerEntry.symlink("a", "b"), LayerEntry.symlink("b", "a"));
    Path through = rawLayer(RawEntry.file("a/file", "x"));
    assertThatThrownBy(() -> LayerFlattener.flatten(List.of(loop, through)))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("too many levels of symbolic links");
  }

  @Test
  void noLayersIsAnEmptyTree() throws IOException {
    LayerFlattener flat = LayerFlattener.flatten(List.of());
    assertThat(flat.entries()).isEmpty();
    flat.forEach(
        e -> {
          throw new AssertionError(e);
        });
  }

  @Test
  void typesSurviveFlattening() throws IOException {
    Path base =
        layer(
            LayerEntry.device("dev/null", Type.CHAR_DEVICE, 0666, 1, 3),
            LayerEntry.device("run/p", Type.FIFO, 0600, 0, 0),
            LayerEntry.file("x", 0644, text("x"))
                .xattrs(Map.of("user.k", new byte[] {1, (byte) 0x80})));
    assertThat(describe(LayerFlattener.flatten(List.of(base)).entries()))
        .containsExactly(
            "DIRECTORY dev 755 0:0 size=0",
            "CHAR_DEVICE dev/null 666 0:0 size=0 dev=1,3",
            "DIRECTORY run 755 0:0 size=0",
            "FIFO run/p 600 0:0 size=0",
            "FILE x 644 0:0 size=1 {user.k=[1, -128]} 'x'");
  }

  private static List<Snap> snaps(List<LayerEntry> entries) throws IOException {
    List<Snap> out = new ArrayList<>();
    for (LayerEntry e : entries) {
      out.add(Snap.of(e));
    }
    return out;
  }
}
