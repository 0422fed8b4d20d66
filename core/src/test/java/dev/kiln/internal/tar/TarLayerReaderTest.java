package dev.kiln.internal.tar;

import static dev.kiln.internal.tar.TarTestSupport.data;
import static dev.kiln.internal.tar.TarTestSupport.paths;
import static dev.kiln.internal.tar.TarTestSupport.readAll;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.internal.tar.TarTestSupport.Snap;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerReader;
import dev.kiln.spi.UnsafeLayerException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TarLayerReaderTest {
  @TempDir Path tmp;

  /** Builds tarballs header by header, including ones no well-behaved tool would write. */
  private static final class RawTar {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final TarWriter w = new TarWriter(buf, 1);

    RawTar dir(String name) throws IOException {
      w.writeHeader(name, TarWriter.DIRECTORY, 0755, 0, 0, 0, "", 0, 0, Map.of());
      return this;
    }

    RawTar file(String name, String content) throws IOException {
      byte[] b = content.getBytes(UTF_8);
      w.writeHeader(name, TarWriter.REGULAR, 0644, 0, 0, b.length, "", 0, 0, Map.of());
      buf.writeBytes(b);
      w.pad(b.length);
      return this;
    }

    RawTar symlink(String name, String target) throws IOException {
      w.writeHeader(name, TarWriter.SYMLINK, 0777, 0, 0, 0, target, 0, 0, Map.of());
      return this;
    }

    RawTar hardlink(String name, String target) throws IOException {
      w.writeHeader(name, TarWriter.HARDLINK, 0644, 0, 0, 0, target, 0, 0, Map.of());
      return this;
    }

    byte[] bytes() throws IOException {
      w.finish();
      return buf.toByteArray();
    }

    Path to(Path file) throws IOException {
      return Files.write(file, bytes());
    }
  }

  private static byte[] gzip(byte[] b) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(b);
    }
    return out.toByteArray();
  }

  private Path sampleTree() throws Exception {
    Path src = Files.createDirectories(tmp.resolve("src"));
    Files.createDirectories(src.resolve("etc"));
    Files.writeString(src.resolve("etc/hosts"), "127.0.0.1 localhost\n");
    Files.createDirectories(src.resolve("usr/bin"));
    Files.write(src.resolve("usr/bin/tool"), data(1, 70_000));
    Files.setPosixFilePermissions(
        src.resolve("usr/bin/tool"), PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.createLink(src.resolve("usr/bin/tool-alias"), src.resolve("usr/bin/tool"));
    Files.createSymbolicLink(src.resolve("bin"), Path.of("usr/bin"));
    Files.createDirectories(src.resolve("tmp"));
    Files.createDirectories(src.resolve("secret"));
    Files.setPosixFilePermissions(
        src.resolve("secret"), PosixFilePermissions.fromString("rwx------"));
    // 131 characters: GNU long-name records in gnu formats, prefix and name in ustar, a PAX path in
    // posix
    Files.createDirectories(src.resolve("d".repeat(60)));
    Files.writeString(src.resolve("d".repeat(60) + "/" + "f".repeat(70)), "long");
    TarTestSupport.run(src, "chmod", "1777", "tmp");
    TarTestSupport.run(src, "chmod", "4755", "usr/bin/tool");
    return src;
  }

  @ParameterizedTest
  @ValueSource(strings = {"gnu", "posix", "ustar", "oldgnu"})
  void readsWhatGnuTarWrites(String format) throws Exception {
    assumeTrue(TarTestSupport.onPath("tar"), "tar not installed");
    Path src = sampleTree();
    Path plain = tmp.resolve("layer.tar");
    Path gz = tmp.resolve("layer.tar.gz");
    String[] common = {
      "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--format=" + format
    };
    TarTestSupport.run(src, concat(new String[] {"tar", "-cf", plain.toString()}, common, "."))
        .exit();
    TarTestSupport.run(src, concat(new String[] {"tar", "-czf", gz.toString()}, common, "."))
        .exit();

    List<Snap> snaps = readAll(plain);
    assertThat(readAll(gz)).isEqualTo(snaps);
    assertThat(snaps.stream().map(Snap::toString))
        .contains(
            "SYMLINK bin 777 0:0 size=0 -> usr/bin",
            "DIRECTORY etc 755 0:0 size=0",
            "FILE etc/hosts 644 0:0 size=20 '127.0.0.1 localhost\n'",
            "FILE " + "d".repeat(60) + "/" + "f".repeat(70) + " 644 0:0 size=4 'long'",
            "DIRECTORY secret 700 0:0 size=0",
            "DIRECTORY tmp 1777 0:0 size=0",
            "FILE usr/bin/tool 4755 0:0 size=70000 'sha256:"
                + TarTestSupport.sha256(data(1, 70_000))
                + "'",
            "HARDLINK usr/bin/tool-alias 4755 0:0 size=0 -> usr/bin/tool");
    assertThat(paths(snaps)).doesNotContain("", ".", "./");
  }

  @Test
  void readsV7Archives() throws Exception {
    assumeTrue(TarTestSupport.onPath("tar"), "tar not installed");
    Path src = Files.createDirectories(tmp.resolve("v7/sub"));
    Files.writeString(src.resolve("f"), "x");
    Path tar = tmp.resolve("v7.tar");
    TarTestSupport.run(
        src.getParent(), "tar", "--format=v7", "--sort=name", "-cf", tar.toString(), ".");
    assertThat(readAll(tar).stream().map(s -> s.type() + " " + s.path()))
        .containsExactly("DIRECTORY sub", "FILE sub/f");
  }

  @Test
  void readsGnuSparseFiles() throws Exception {
    assumeTrue(TarTestSupport.onPath("tar"), "tar not installed");
    Path src = Files.createDirectories(tmp.resolve("sparse"));
    try (var ch =
        java.nio.channels.FileChannel.open(
            src.resolve("holes"),
            java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap("start".getBytes(UTF_8)), 0);
      ch.write(java.nio.ByteBuffer.wrap("end".getBytes(UTF_8)), 5_000_000);
    }
    byte[] expected = Files.readAllBytes(src.resolve("holes"));
    for (String format : List.of("gnu", "posix")) {
      Path tar = tmp.resolve("sparse-" + format + ".tar");
      TarTestSupport.run(src, "tar", "-S", "--format=" + format, "-cf", tar.toString(), "holes");
      try (LayerReader r = LayerReader.open(tar)) {
        LayerEntry e = r.next();
        assertThat(e.path()).isEqualTo("holes");
        assertThat(e.size()).isEqualTo(expected.length);
        try (InputStream in = e.content().open()) {
          assertThat(in.readAllBytes()).isEqualTo(expected);
        }
        assertThat(r.next()).isNull();
      }
    }
  }

  @Test
  void turnsWhiteoutFilesIntoWhiteoutEntriesAndNormalisesPaths() throws IOException {
    Path layer =
        new RawTar()
            .dir("./")
            .dir("./a/")
            .file("./a/.wh.b", "")
            .file("./a/.wh..wh..opq", "")
            .file(".wh.top", "")
            .dir("./.wh..wh.plnk/")
            .file("./.wh..wh.plnk/123.456", "aufs")
            .file("./c//d", "x")
            .file("/abs/olute", "y")
            .to(tmp.resolve("wh.tar"));
    assertThat(readAll(layer).stream().map(s -> s.type() + " " + s.path()))
        .containsExactly(
            "DIRECTORY a",
            "WHITEOUT a/b",
            "OPAQUE_WHITEOUT a",
            "WHITEOUT top",
            "FILE c/d",
            "FILE abs/olute");
  }

  @Test
  void rejectsEntriesThatEscapeTheRoot() throws IOException {
    Path dotdot = new RawTar().file("../../etc/passwd", "root::0:0").to(tmp.resolve("dotdot.tar"));
    assertThatThrownBy(() -> readAll(dotdot))
        .isInstanceOf(UnsafeLayerException.class)
        .hasMessage("tar entry '../../etc/passwd' in " + dotdot + " would escape the image root");
    Path inner = new RawTar().dir("a/").file("a/../../x", "").to(tmp.resolve("inner.tar"));
    assertThatThrownBy(() -> readAll(inner))
        .isInstanceOf(UnsafeLayerException.class)
        .hasMessageContaining("'a/../../x'");
    Path link = new RawTar().hardlink("h", "../../etc/shadow").to(tmp.resolve("link.tar"));
    assertThatThrownBy(() -> readAll(link))
        .isInstanceOf(UnsafeLayerException.class)
        .hasMessageContaining("'../../etc/shadow'")
        .hasMessageContaining("would escape the image root");
    Path whiteout = new RawTar().dir("d/").file("d/.wh...", "").to(tmp.resolve("wh.tar"));
    assertThatThrownBy(() -> readAll(whiteout))
        .isInstanceOf(UnsafeLayerException.class)
        .hasMessageContaining("'d/.wh...'");
  }

  @Test
  void rejectsEntriesWrittenThroughASymlinkOfTheSameTarball() throws IOException {
    Path file =
        new RawTar().symlink("x", "/etc").file("x/passwd", "root::0:0").to(tmp.resolve("s1.tar"));
    assertThatThrownBy(() -> readAll(file))
        .isInstanceOf(UnsafeLayerException.class)
        .hasMessageContaining("tar entry 'x/passwd'")
        .hasMessageContaining("writes through symlink 'x' -> '/etc'");
    Path deep =
        new RawTar().dir("a/").symlink("a/x", "../..").dir("a/x/y/").to(tmp.resolve("s2.tar"));
    assertThatThrownBy(() -> readAll(deep))
        .isInstanceOf(UnsafeLayerException.class)
        .hasMessageContaining("writes through symlink 'a/x' -> '../..'");
    Path hard =
        new RawTar().symlink("x", "/etc").hardlink("h", "x/shadow").to(tmp.resolve("s3.tar"));
    assertThatThrownBy(() -> readAll(hard))
        .isInstanceOf(UnsafeLayerException.class)
        .hasMessageContaining("writes through symlink 'x' -> '/etc'");
    Path whiteout =
        new RawTar().symlink("x", "/etc").file("x/.wh.passwd", "").to(tmp.resolve("s4.tar"));
    assertThatThrownBy(() -> readAll(whiteout))
        .isInstanceOf(UnsafeLayerException.class)
        .hasMessageContaining("writes through symlink 'x' -> '/etc'");
    // A directory that replaces the symlink makes the path safe again, as it does on extraction.
    Path replaced =
        new RawTar().symlink("x", "/etc").dir("x/").file("x/y", "ok").to(tmp.resolve("s5.tar"));
    assertThat(paths(readAll(replaced))).containsExactly("x", "x", "x/y");
  }

  @Test
  void aTruncatedTarIsReported() throws IOException {
    byte[] good = new RawTar().dir("d/").file("d/f", "x".repeat(3000)).file("d/g", "y").bytes();
    // inside content, inside a header, at a block boundary without end marker, inside the end
    // marker
    for (int cut : new int[] {512 * 2 + 1000, 512 * 7 + 100, 512 * 8, good.length - 1024 + 100}) {
      Path file = Files.write(tmp.resolve("cut-" + cut + ".tar"), Arrays.copyOf(good, cut));
      assertThatThrownBy(() -> readAll(file))
          .as("cut at %d", cut)
          .isInstanceOf(IOException.class)
          .hasMessageStartingWith("truncated or not a tar archive: " + file);
    }
    // One zero block of the two is enough for every tar reader.
    Path lone = Files.write(tmp.resolve("lone.tar"), Arrays.copyOf(good, good.length - 512));
    assertThat(paths(readAll(lone))).containsExactly("d", "d/f", "d/g");
  }

  @Test
  void aTruncatedEntryFailsWhileItsContentIsRead() throws IOException {
    byte[] good = new RawTar().file("f", "x".repeat(3000)).bytes();
    Path file = Files.write(tmp.resolve("cut.tar"), Arrays.copyOf(good, 512 + 1000));
    try (LayerReader r = LayerReader.open(file)) {
      LayerEntry e = r.next();
      try (InputStream in = e.content().open()) {
        assertThatThrownBy(in::readAllBytes)
            .isInstanceOf(IOException.class)
            .hasMessageStartingWith("truncated or not a tar archive: " + file);
      }
    }
  }

  @Test
  void aTruncatedGzipIsReported() throws IOException {
    byte[] tar = new RawTar().file("f", new String(data(2, 200_000), UTF_8)).bytes();
    byte[] gz = gzip(tar);
    for (int cut : new int[] {5, gz.length / 2, gz.length - 4}) {
      Path file = Files.write(tmp.resolve("cut-" + cut + ".tar.gz"), Arrays.copyOf(gz, cut));
      assertThatThrownBy(() -> readAll(file))
          .as("cut at %d", cut)
          .isInstanceOf(IOException.class)
          .hasMessageStartingWith("truncated or not a tar archive: " + file);
    }
    byte[] corrupt = gz.clone();
    corrupt[gz.length - 6] ^= 1; // the CRC
    Path file = Files.write(tmp.resolve("crc.tar.gz"), corrupt);
    assertThatThrownBy(() -> readAll(file))
        .hasMessageStartingWith("truncated or not a tar archive: " + file);
  }

  @Test
  void somethingElseIsNotATar() throws IOException {
    byte[] text = "# services\n".repeat(300).getBytes(UTF_8);
    byte[] random = new byte[10_000];
    new Random(3).nextBytes(random);
    byte[] header = new RawTar().file("f", "abc").bytes();
    header[0] ^= 1; // the checksum no longer matches
    Map<String, byte[]> cases =
        Map.of(
            "text",
            text,
            "short-text",
            "hello\n".getBytes(UTF_8),
            "empty",
            new byte[0],
            "random",
            random,
            "gzipped-text",
            gzip(text),
            "bad-checksum",
            header);
    for (Map.Entry<String, byte[]> c : cases.entrySet()) {
      Path file = Files.write(tmp.resolve(c.getKey()), c.getValue());
      assertThatThrownBy(() -> readAll(file))
          .as(c.getKey())
          .isInstanceOf(IOException.class)
          .hasMessageStartingWith("truncated or not a tar archive: " + file);
    }
  }

  @Test
  void zstdIsNamed() throws IOException {
    Path file =
        Files.write(
            tmp.resolve("layer.zst"), new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd, 0, 0});
    assertThatThrownBy(() -> LayerReader.open(file)).hasMessageContaining("zstd");
  }

  @Test
  void contentIsValidUntilNext() throws IOException {
    Path file = new RawTar().file("a", "first").file("b", "second").to(tmp.resolve("two.tar"));
    try (LayerReader r = LayerReader.open(file)) {
      LayerEntry a = r.next();
      InputStream in = a.content().open();
      assertThat(in.read()).isEqualTo('f');
      assertThatThrownBy(() -> a.content().open()).hasMessageContaining("only once");
      LayerEntry b = r.next();
      assertThatThrownBy(in::read)
          .isInstanceOf(IOException.class)
          .hasMessageContaining("moved past it");
      assertThatThrownBy(() -> a.content().open()).isInstanceOf(IOException.class);
      try (InputStream bin = b.content().open()) {
        assertThat(new String(bin.readAllBytes(), UTF_8)).isEqualTo("second");
      }
      assertThat(r.next()).isNull();
      assertThat(r.next()).isNull();
    }
  }

  @Test
  void readsFromAStream() throws IOException {
    byte[] tar = new RawTar().file("f", "content").bytes();
    for (byte[] bytes : List.of(tar, gzip(tar))) {
      try (LayerReader r = LayerReader.of(new ByteArrayInputStream(bytes), "upload")) {
        assertThat(readAll(r)).extracting(Snap::content).containsExactly("content");
      }
    }
    assertThatThrownBy(
            () -> readAll(LayerReader.of(new ByteArrayInputStream(new byte[100]), "upload")))
        .hasMessageStartingWith("truncated or not a tar archive: upload");
  }

  @Test
  void keepsModesOwnersDevicesAndRawXattrs() throws IOException {
    byte[] binary = {0, (byte) 0x80, (byte) 0xff, (byte) 0xc3, 0x28, 10, '=', ' '};
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    TarWriter w = new TarWriter(buf, 123);
    w.writeHeader("dev/console", TarWriter.CHAR_DEVICE, 0620, 0, 5, 0, "", 5, 1, Map.of());
    w.writeHeader("dev/loop0", TarWriter.BLOCK_DEVICE, 0660, 0, 6, 0, "", 7, 0, Map.of());
    w.writeHeader(
        "sbin/ping",
        TarWriter.REGULAR,
        06755,
        12,
        34,
        0,
        "",
        0,
        0,
        Map.of("security.capability", binary, "user.empty", new byte[0]));
    w.finish();
    Path file = Files.write(tmp.resolve("x.tar"), buf.toByteArray());
    List<Snap> snaps = readAll(file);
    assertThat(snaps.stream().map(Snap::toString))
        .containsExactly(
            "CHAR_DEVICE dev/console 620 0:5 size=0 dev=5,1",
            "BLOCK_DEVICE dev/loop0 660 0:6 size=0 dev=7,0",
            "FILE sbin/ping 6755 12:34 size=0 {security.capability="
                + Arrays.toString(binary)
                + ", user.empty=[]} ''");
  }

  @Test
  void theLayerReaderFactoryOfTheSpiOpensTarballs() throws IOException {
    Path file = new RawTar().file("f", "x").to(tmp.resolve("spi.tar"));
    try (LayerReader r = LayerReader.open(file)) {
      assertThat(r.next().type()).isEqualTo(Type.FILE);
    }
    assertThatThrownBy(() -> LayerReader.open(tmp.resolve("missing.tar")))
        .isInstanceOf(java.nio.file.NoSuchFileException.class)
        .hasMessageContaining("missing.tar");
  }

  private static String[] concat(String[] head, String[] middle, String last) {
    String[] all = Arrays.copyOf(head, head.length + middle.length + 1);
    System.arraycopy(middle, 0, all, head.length, middle.length);
    all[all.length - 1] = last;
    return all;
  }
}
